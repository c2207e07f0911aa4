using System.Diagnostics;
using System.Threading.Tasks;

namespace Research.Model.Data;

/// <summary>
/// A part of a recording, from Kaldi's <c>segments</c> file (<c>utt recording start end [channel]</c>): times in
/// seconds, <see cref="End"/> = -1 meaning "to the end of the recording" (as in Kaldi's <c>extract-segments</c>).
/// </summary>
public sealed record Segment(string Recording, double Start, double End, int? Channel = null);

/// <summary>
/// One utterance of a Kaldi data directory. <see cref="WavPath"/> is an absolute path (relative paths in
/// <c>wav.scp</c> resolve against the data directory) or, when <see cref="WavIsCommand"/>, a shell command whose
/// standard output is the audio (Kaldi's <c>utt cmd args |</c> form, stored without the <c>|</c>).
/// <see cref="VideoPath"/> comes from <c>video.scp</c>: a video file or a <c>.npy</c> of per-frame features.
/// </summary>
public sealed record Utterance(string Id, string Speaker, string Transcript, string WavPath, string? VideoPath = null)
{
    /// <summary>Whether <see cref="WavPath"/> is a shell command (Kaldi's piped <c>wav.scp</c> entry).</summary>
    public bool WavIsCommand { get; init; }

    /// <summary>Where in its recording the utterance lies, when the data directory has a <c>segments</c> file.</summary>
    public Segment? Segment { get; init; }

    /// <summary>
    /// The bytes of the audio source: the file, or the standard output of the command run with <c>bash -c</c> in the
    /// process's current directory (as Kaldi runs them). A failing command is an error naming the utterance, the
    /// exit code and the end of its standard error. The segment, if any, is not cut out here.
    /// </summary>
    public byte[] ReadWavBytes()
    {
        if (!WavIsCommand)
        {
            return File.ReadAllBytes(WavPath);
        }
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(WavPath);
        using var process =
            Process.Start(info) ?? throw new InvalidOperationException($"utterance '{Id}': could not start bash for '{WavPath}'");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var bytes = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(bytes);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            string error = stderr.Result.Trim();
            string tail = error.Length > 500 ? "…" + error[^500..] : error;
            throw new IOException($"utterance '{Id}': wav.scp command '{WavPath} |' exited with code {process.ExitCode}: {tail}");
        }
        return bytes.ToArray();
    }
}
