using System.ComponentModel;
using System.Diagnostics;
using System.Threading.Tasks;

namespace Research.Model.Runtime;

/// <summary>What an external program did: its exit code, everything it wrote to stdout, and its stderr text.</summary>
public sealed record ToolResult(int ExitCode, byte[] Output, string Errors);

/// <summary>
/// Runs the external programs of the front ends and the demo generator (ffmpeg, espeak-ng): arguments passed one by
/// one (no shell), stdout captured as bytes, stderr as text, optional bytes fed to stdin. A program that cannot be
/// started is an error naming the item, the program and the Debian package to install.
/// </summary>
public static class ExternalTool
{
    /// <param name="program">the program (on PATH, or a path)</param>
    /// <param name="arguments">its arguments</param>
    /// <param name="item">what the call is about, for error messages (usually a file path)</param>
    /// <param name="debianPackage">the package that provides the program</param>
    /// <param name="input">writes the program's standard input, when it reads one</param>
    public static ToolResult Run(
        string program,
        IEnumerable<string> arguments,
        string item,
        string debianPackage,
        Action<Stream>? input = null
    )
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{item}: '{program}' did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"{item}: '{program}' could not be started ({e.Message}); install it (Debian: apt-get install {debianPackage})",
                e
            );
        }
        using (process)
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            using var output = new MemoryStream();
            Task copy = process.StandardOutput.BaseStream.CopyToAsync(output);
            if (input is not null)
            {
                try
                {
                    using var stdin = process.StandardInput.BaseStream;
                    input(stdin);
                }
                catch
                {
                    process.Kill(entireProcessTree: true);
                    throw;
                }
            }
            copy.Wait();
            process.WaitForExit();
            return new ToolResult(process.ExitCode, output.ToArray(), errors.Result.Trim());
        }
    }
}
