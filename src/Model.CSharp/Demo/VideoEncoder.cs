using Research.Model.Runtime;

namespace Research.Model.Demo;

/// <summary>Writes grey-level frames as an H.264 MP4 through ffmpeg (Debian package ffmpeg).</summary>
public static class VideoEncoder
{
    /// <summary>Frames are <paramref name="size"/>² values in [0, 1]; written at <paramref name="fps"/> frames per second.</summary>
    public static void WriteGrayMp4(string path, IReadOnlyList<float[]> frames, int size, int fps)
    {
        Check(path, frames, size);
        string temp = path + ".tmp.mp4";
        string[] arguments = ["-nostdin", "-v", "error", "-y", .. Input(size, fps, "pipe:0"), .. Encoding(0, temp)];
        try
        {
            var run = ExternalTool.Run(
                "ffmpeg",
                arguments,
                path,
                "ffmpeg",
                input =>
                {
                    foreach (var f in frames)
                    {
                        input.Write(Bytes(f));
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

    /// <summary>
    /// Writes several videos as <see cref="WriteGrayMp4"/> does (the same bytes: an encoder per output, one thread,
    /// bit-exact) from one ffmpeg process, whose start-up costs more than encoding a short clip. The frames go
    /// through raw files in a temporary folder; each video appears whole or not at all.
    /// </summary>
    public static void WriteGrayMp4Many(IReadOnlyList<(string Path, IReadOnlyList<float[]> Frames)> videos, int size, int fps)
    {
        foreach (var (path, frames) in videos)
        {
            Check(path, frames, size);
        }
        if (videos.Count == 0)
        {
            return;
        }
        string folder = Path.Combine(Path.GetTempPath(), $"research-encode-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var arguments = new List<string> { "-nostdin", "-v", "error", "-y" };
            for (int k = 0; k < videos.Count; k++)
            {
                string raw = Path.Combine(folder, $"{k}.gray");
                using (var stream = File.Create(raw))
                {
                    foreach (var f in videos[k].Frames)
                    {
                        stream.Write(Bytes(f));
                    }
                }
                arguments.AddRange(Input(size, fps, raw));
            }
            for (int k = 0; k < videos.Count; k++)
            {
                arguments.AddRange(Encoding(k, Path.Combine(folder, $"{k}.mp4")));
            }
            var run = ExternalTool.Run("ffmpeg", arguments, $"{videos[0].Path} and {videos.Count - 1} more", "ffmpeg");
            if (run.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg failed writing {videos[0].Path} and {videos.Count - 1} more: {run.Errors}");
            }
            for (int k = 0; k < videos.Count; k++)
            {
                File.Move(Path.Combine(folder, $"{k}.mp4"), videos[k].Path, overwrite: true);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static void Check(string path, IReadOnlyList<float[]> frames, int size)
    {
        foreach (var f in frames)
        {
            if (f.Length != size * size)
            {
                throw new ArgumentException($"{path}: frame of {f.Length} values, expected {size * size}");
            }
        }
    }

    static byte[] Bytes(float[] frame)
    {
        var bytes = new byte[frame.Length];
        for (int i = 0; i < frame.Length; i++)
        {
            bytes[i] = (byte)Math.Clamp(Math.Round(255 * frame[i]), 0, 255);
        }
        return bytes;
    }

    /// <summary>Raw grey frames of <paramref name="size"/>² at <paramref name="fps"/> from <paramref name="source"/>.</summary>
    static string[] Input(int size, int fps, string source) =>
        ["-f", "rawvideo", "-pix_fmt", "gray", "-s", $"{size}x{size}", "-r", fps.ToString(), "-i", source];

    /// <summary>Input <paramref name="input"/> encoded as H.264 (x264 veryfast, CRF 18, one thread, bit-exact) into <paramref name="target"/>.</summary>
    static string[] Encoding(int input, string target) =>
        [
            "-map",
            $"{input}:v:0",
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
            target,
        ];
}
