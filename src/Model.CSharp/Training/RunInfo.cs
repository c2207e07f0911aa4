using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Research.Model.Runtime;

namespace Research.Model.Training;

/// <summary>
/// Where and with what a run was started: the source (git commit, and whether the working tree had changes), the
/// package versions, the .NET runtime, the OS, the core count, the command line and the start time. Written into
/// run.json by <see cref="RunFolder"/>; <see cref="Capture"/> collects it from the running process.
/// </summary>
/// <param name="GitCommit">the commit of HEAD, or "unknown" when git or the repository is unavailable</param>
/// <param name="GitDirty">whether the working tree differed from the commit (tracked changes or untracked files); null when unknown</param>
/// <param name="Packages">package name → version</param>
/// <param name="Runtime">e.g. ".NET 10.0.1"</param>
/// <param name="Os">the OS description and architecture</param>
/// <param name="CpuCount">the logical processors the process may use</param>
/// <param name="CommandLine">the process's command-line arguments, program first</param>
/// <param name="Started">when the run (or this resumption of it) started</param>
public sealed record RunInfo(
    string GitCommit,
    bool? GitDirty,
    IReadOnlyDictionary<string, string> Packages,
    string Runtime,
    string Os,
    int CpuCount,
    IReadOnlyList<string> CommandLine,
    DateTimeOffset Started
)
{
    /// <summary>The commit recorded when git cannot tell.</summary>
    public const string Unknown = "unknown";

    /// <summary>
    /// The running process's information. <paramref name="repositoryRoot"/> is where git runs; by default the
    /// nearest folder holding <c>.git</c> above the current directory, else above the program's own folder.
    /// </summary>
    public static RunInfo Capture(string? repositoryRoot = null)
    {
        string? root = repositoryRoot ?? FindRepositoryRoot(Environment.CurrentDirectory) ?? FindRepositoryRoot(AppContext.BaseDirectory);
        (string commit, bool? dirty) = root is null ? (Unknown, null) : GitState(root);
        return new RunInfo(
            commit,
            dirty,
            PackageVersions(),
            RuntimeInformation.FrameworkDescription,
            $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})",
            Environment.ProcessorCount,
            Environment.GetCommandLineArgs(),
            DateTimeOffset.UtcNow
        );
    }

    /// <summary>
    /// TorchSharp and PureHDF as loaded (their informational versions), and libtorch as pinned at build time
    /// (it has no managed assembly to ask; Directory.Build.props pins the one the native package holds).
    /// </summary>
    public static IReadOnlyDictionary<string, string> PackageVersions()
    {
        var own = typeof(RunInfo).Assembly;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["TorchSharp"] = VersionOf(typeof(TorchSharp.torch).Assembly),
            ["PureHDF"] = VersionOf(typeof(PureHDF.H5File).Assembly),
            ["libtorch"] = Metadata(own, "LibTorchVersion"),
        };
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> holding a <c>.git</c> folder or file (worktrees have a file).</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        {
            string git = Path.Combine(d.FullName, ".git");
            if (Directory.Exists(git) || File.Exists(git))
            {
                return d.FullName;
            }
        }
        return null;
    }

    /// <summary>HEAD's commit and whether the tree has changes, from git run in <paramref name="root"/>; ("unknown", null) when git fails.</summary>
    static (string Commit, bool? Dirty) GitState(string root)
    {
        string? head = Git(root, "rev-parse", "HEAD");
        if (head is null || head.Length == 0)
        {
            return (Unknown, null);
        }
        string? status = Git(root, "status", "--porcelain");
        return (head, status is null ? null : status.Length > 0);
    }

    /// <summary>git's trimmed standard output, or null when git is missing or fails.</summary>
    static string? Git(string root, params string[] arguments)
    {
        try
        {
            var result = ExternalTool.Run("git", ["-C", root, .. arguments], root, "git");
            return result.ExitCode == 0 ? Encoding.UTF8.GetString(result.Output).Trim() : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    static string VersionOf(Assembly assembly)
    {
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        string version = informational ?? assembly.GetName().Version?.ToString() ?? Unknown;
        int plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    static string Metadata(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value ?? Unknown;
}
