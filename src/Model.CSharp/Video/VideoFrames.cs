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
        if (!(fps > 0) || double.IsInfinity(fps))
        {
            throw new ArgumentOutOfRangeException(nameof(fps), fps, "frames per second must be positive");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"video not found: {path}", path);
        }
        string scale = $"scale={width}:{height}" + (scaleFlags is null ? "" : $":flags={scaleFlags}");
        string[] arguments =
        [
            "-nostdin",
            "-v",
            "error",
            "-i",
            path,
            "-map",
            "0:v:0",
            "-vf",
            $"fps={fps.ToString("R", CultureInfo.InvariantCulture)},{scale}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ];
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
}
