using Research.Model.Runtime;

namespace Research.Model.Audio;

/// <summary>
/// Decodes any container ffmpeg reads (m4a/aac, mp4, flac, mp3, ogg, ...) to mono 16-bit samples at a given rate,
/// by running <c>ffmpeg -nostdin -v error -i PATH -f s16le -ac 1 -ar RATE -</c> and reading its output.
/// ffmpeg does the down-mix (its default matrix) and the resampling.
/// </summary>
public static class FfmpegDecoder
{
    /// <summary>
    /// Decodes <paramref name="path"/> to mono int16-scale samples at <paramref name="sampleRate"/> Hz with the
    /// program <paramref name="ffmpeg"/> (looked up on PATH unless it is a path).
    /// </summary>
    /// <exception cref="InvalidDataException">ffmpeg failed or produced no audio; the message names the file and
    /// quotes ffmpeg's error output.</exception>
    /// <exception cref="InvalidOperationException">ffmpeg could not be started.</exception>
    public static Waveform Decode(string path, int sampleRate, string ffmpeg = "ffmpeg")
    {
        if (sampleRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "the sample rate must be positive");
        }
        // "file:" keeps a path with ':' or a leading '-' from being read as a protocol or an option.
        string[] arguments =
        [
            "-nostdin",
            "-v",
            "error",
            "-i",
            "file:" + Path.GetFullPath(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            sampleRate.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-",
        ];
        var run = ExternalTool.Run(ffmpeg, arguments, $"{path}: decoding this file needs ffmpeg (it is not a RIFF/WAVE file)", "ffmpeg");
        {
            string errors = run.Errors;
            if (run.ExitCode != 0)
            {
                throw new InvalidDataException($"{path}: ffmpeg could not decode it (exit code {run.ExitCode}): {errors}");
            }
            byte[] bytes = run.Output;
            int count = bytes.Length / 2;
            if (count == 0)
            {
                string said = errors.Length > 0 ? $": {errors}" : "";
                throw new InvalidDataException($"{path}: ffmpeg decoded no audio samples (zero-length audio){said}");
            }
            var samples = new float[count];
            for (int i = 0; i < count; i++)
            {
                samples[i] = (short)(bytes[2 * i] | (bytes[2 * i + 1] << 8));
            }
            return new Waveform(samples, sampleRate);
        }
    }
}
