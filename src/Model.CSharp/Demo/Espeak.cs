using Research.Model.Runtime;

namespace Research.Model.Demo;

/// <summary>Speech synthesis with espeak-ng (Debian package espeak-ng): 22,050 Hz 16-bit mono WAV.</summary>
public static class Espeak
{
    /// <summary>Writes <paramref name="text"/> spoken by <paramref name="voice"/> with <paramref name="prosody"/> to <paramref name="wavPath"/>.</summary>
    public static void Synthesize(string text, string voice, Prosody prosody, string wavPath)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException($"{wavPath}: nothing to say");
        }
        string temp = wavPath + ".tmp.wav";
        string[] arguments =
        [
            "-v",
            voice,
            "-p",
            prosody.Pitch.ToString(),
            "-s",
            prosody.Rate.ToString(),
            "-a",
            prosody.Amplitude.ToString(),
            "-g",
            prosody.WordGap.ToString(),
            "-w",
            temp,
            "--",
            text,
        ];
        try
        {
            var run = ExternalTool.Run("espeak-ng", arguments, wavPath, "espeak-ng");
            if (run.ExitCode != 0 || !File.Exists(temp) || new FileInfo(temp).Length <= 44)
            {
                throw new InvalidOperationException($"espeak-ng failed for {wavPath} (voice {voice}, exit {run.ExitCode}): {run.Errors}");
            }
            File.Move(temp, wavPath, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
