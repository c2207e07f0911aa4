using System.Diagnostics;

namespace Research.Model.Runtime;

/// <summary>Starts a program as N ranks on this machine with OpenMPI's <c>mpirun</c>.</summary>
public static class MpiLauncher
{
    /// <summary>The <c>mpirun</c> on the PATH, or a clear error saying how to install it.</summary>
    public static string Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var dir in dirs)
        {
            string candidate = Path.Combine(dir, "mpirun");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException(
            "mpirun was not found on the PATH: several ranks need OpenMPI (apt-get install -y openmpi-bin libopenmpi-dev)"
        );
    }

    /// <summary>
    /// mpirun's arguments for <paramref name="ranks"/> ranks of <paramref name="program"/> on this machine: root allowed
    /// (containers), more ranks than cores allowed, no core binding (each rank sets its own torch threads), and TCP over
    /// loopback plus shared memory without single-copy (which containers often forbid).
    /// </summary>
    public static List<string> Arguments(int ranks, string program, IEnumerable<string> programArguments)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        var args = new List<string> { "--oversubscribe", "--bind-to", "none" };
        if (Environment.UserName == "root")
        {
            args.Add("--allow-run-as-root");
        }
        args.AddRange(["--mca", "btl", "self,vader,tcp", "--mca", "btl_vader_single_copy_mechanism", "none"]);
        args.AddRange(["--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]);
        args.AddRange(["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), program]);
        args.AddRange(programArguments);
        return args;
    }

    /// <summary>A process start for mpirun (output not redirected unless asked).</summary>
    public static ProcessStartInfo StartInfo(int ranks, string program, IEnumerable<string> programArguments, bool redirect = false) =>
        new(Find(), Arguments(ranks, program, programArguments))
        {
            UseShellExecute = false,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };

    /// <summary>Runs the ranks to the end with the output shown and returns mpirun's exit code.</summary>
    public static int Run(int ranks, string program, IEnumerable<string> programArguments)
    {
        using var p =
            Process.Start(StartInfo(ranks, program, programArguments)) ?? throw new InvalidOperationException("mpirun did not start");
        p.WaitForExit();
        return p.ExitCode;
    }
}
