using System;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;

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
        var info = new ProcessStartInfo("espeak-ng")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (
            var a in new[]
            {
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
            }
        )
        {
            info.ArgumentList.Add(a);
        }
        try
        {
            using var p = Process.Start(info) ?? throw new InvalidOperationException("espeak-ng did not start");
            string err = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || !File.Exists(temp) || new FileInfo(temp).Length <= 44)
            {
                throw new InvalidOperationException($"espeak-ng failed for {wavPath} (voice {voice}, exit {p.ExitCode}): {err.Trim()}");
            }
            File.Move(temp, wavPath, overwrite: true);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("espeak-ng is not installed (Debian: apt-get install espeak-ng)", e);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
