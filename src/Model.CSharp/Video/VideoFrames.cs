using System.Globalization;
using Research.Model.Runtime;

namespace Research.Model.Video;

/// <summary>
/// Decodes a video's frames with ffmpeg (which must be installed: Debian package <c>ffmpeg</c>):
/// <c>ffmpeg -nostdin -v error -i PATH -map 0:v:0 -vf fps=RATE,scale=W:H[:flags=F] -f rawvideo -pix_fmt rgb24 -</c>,
/// reading the frames from its standard output. The first video stream is used; frames are resampled to
/// <c>fps</c> by ffmpeg's fps filter (nearest frame in time) and scaled to W×H without keeping the aspect ratio.
/// </summary>
public static class VideoFrames
{
    /// <summary>
    /// The frames of <paramref name="path"/> at <paramref name="fps"/> frames per second, <paramref name="width"/>×
    /// <paramref name="height"/>. <paramref name="scaleFlags"/> picks ffmpeg's scaler (null: its default, bicubic;
    /// "area" averages, best for shrinking). Errors name the file: missing, not decodable, no video stream, no
    /// frames, or ffmpeg not found (<paramref name="ffmpeg"/> is the program to run).
    /// </summary>
    public static RgbFrames Read(string path, double fps, int width, int height, string? scaleFlags = null, string ffmpeg = "ffmpeg")
    {
        string filter = Filter(fps, width, height, scaleFlags);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"video not found: {path}", path);
        }
        string[] arguments = ["-nostdin", "-v", "error", "-i", path, .. Output(0, filter, "-")];
        var run = ExternalTool.Run(ffmpeg, arguments, $"{path}: cannot decode video", "ffmpeg");
        {
            string errors = run.Errors;
            if (run.ExitCode != 0)
            {
                if (errors.Contains("matches no streams", StringComparison.Ordinal))
                {
                    throw new InvalidDataException($"{path}: the file has no video stream");
                }
                throw new InvalidDataException($"{path}: ffmpeg could not decode the video (exit code {run.ExitCode}): {errors}");
            }
            long frameBytes = (long)width * height * 3;
            long length = run.Output.Length;
            if (length % frameBytes != 0)
            {
                throw new InvalidDataException(
                    $"{path}: ffmpeg wrote {length} bytes, not a whole number of {width}x{height} rgb24 frames ({frameBytes} bytes each)"
                );
            }
            if (length == 0)
            {
                throw new InvalidDataException($"{path}: no video frames decoded at {fps} fps{(errors.Length > 0 ? ": " + errors : "")}");
            }
            return new RgbFrames(run.Output, (int)(length / frameBytes), height, width);
        }
    }

    /// <summary>
    /// The frames of several videos from one ffmpeg process (an input and a raw output file per video, each through
    /// the filter <see cref="Read"/> uses, so the frames are the same): ffmpeg's start-up, which here costs more than
    /// decoding a short clip (it links some 200 libraries), is paid once. Returns the frames in the order of
    /// <paramref name="paths"/>, or null when the batch did not decode cleanly (a missing or corrupt file, no video
    /// stream, no frames): then <see cref="Read"/> each file, whose errors name it. Nothing is left behind.
    /// </summary>
    public static RgbFrames[]? TryReadMany(
        IReadOnlyList<string> paths,
        double fps,
        int width,
        int height,
        string? scaleFlags = null,
        string ffmpeg = "ffmpeg"
    )
    {
        string filter = Filter(fps, width, height, scaleFlags);
        if (paths.Count == 0 || paths.Any(p => !File.Exists(p)))
        {
            return null;
        }
        string folder = Path.Combine(Path.GetTempPath(), $"research-frames-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var arguments = new List<string> { "-nostdin", "-v", "error" };
            foreach (string path in paths)
            {
                // One decoding thread per input: a chunk has many inputs, and H.264 decoding is exact either way.
                arguments.AddRange(["-threads", "1", "-i", path]);
            }
            for (int k = 0; k < paths.Count; k++)
            {
                arguments.AddRange(Output(k, filter, Path.Combine(folder, $"{k}.rgb")));
            }
            var run = ExternalTool.Run(ffmpeg, [.. arguments], $"{paths[0]} and {paths.Count - 1} more: cannot decode videos", "ffmpeg");
            if (run.ExitCode != 0 || run.Errors.Length > 0)
            {
                return null;
            }
            long frameBytes = (long)width * height * 3;
            var frames = new RgbFrames[paths.Count];
            for (int k = 0; k < paths.Count; k++)
            {
                byte[] pixels = File.ReadAllBytes(Path.Combine(folder, $"{k}.rgb"));
                if (pixels.Length == 0 || pixels.Length % frameBytes != 0)
                {
                    return null;
                }
                frames[k] = new RgbFrames(pixels, (int)(pixels.Length / frameBytes), height, width);
            }
            return frames;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The filter chain of a decode: resample to <paramref name="fps"/>, scale to W×H (checked arguments).</summary>
    static string Filter(double fps, int width, int height, string? scaleFlags)
    {
        if (!(fps > 0) || double.IsInfinity(fps))
        {
            throw new ArgumentOutOfRangeException(nameof(fps), fps, "frames per second must be positive");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        string scale = $"scale={width}:{height}" + (scaleFlags is null ? "" : $":flags={scaleFlags}");
        return $"fps={fps.ToString("R", CultureInfo.InvariantCulture)},{scale}";
    }

    /// <summary>The output options of input <paramref name="input"/>: its first video stream as raw rgb24 to <paramref name="target"/>.</summary>
    static string[] Output(int input, string filter, string target) =>
        ["-map", $"{input}:v:0", "-vf", filter, "-f", "rawvideo", "-pix_fmt", "rgb24", target];
}
