using Research.Model.Runtime;

namespace Research.Model.Demo;

/// <summary>Writes grey-level frames as an H.264 MP4 through ffmpeg (Debian package ffmpeg).</summary>
public static class VideoEncoder
{
    /// <summary>Frames are <paramref name="size"/>² values in [0, 1]; written at <paramref name="fps"/> frames per second.</summary>
    public static void WriteGrayMp4(string path, IReadOnlyList<float[]> frames, int size, int fps)
    {
        foreach (var f in frames)
        {
            if (f.Length != size * size)
            {
                throw new ArgumentException($"{path}: frame of {f.Length} values, expected {size * size}");
            }
        }
        string temp = path + ".tmp.mp4";
        string[] arguments =
        [
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-s",
            $"{size}x{size}",
            "-r",
            fps.ToString(),
            "-i",
            "pipe:0",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-threads",
            "1",
            "-bitexact",
            temp,
        ];
        try
        {
            var run = ExternalTool.Run(
                "ffmpeg",
                arguments,
                path,
                "ffmpeg",
                input =>
                {
                    var buffer = new byte[size * size];
                    foreach (var f in frames)
                    {
                        for (int i = 0; i < f.Length; i++)
                        {
                            buffer[i] = (byte)Math.Clamp(Math.Round(255 * f[i]), 0, 255);
                        }
                        input.Write(buffer);
                    }
                }
            );
            if (run.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg failed writing {path}: {run.Errors}");
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
