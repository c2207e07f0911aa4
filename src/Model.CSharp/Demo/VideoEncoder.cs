using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace Research.Model.Demo;

/// <summary>Writes grey-level frames as an H.264 MP4 through ffmpeg (Debian package ffmpeg).</summary>
public static class VideoEncoder
{
    /// <summary>Frames are <paramref name="size"/>² values in [0, 1]; written at <paramref name="fps"/> frames per second.</summary>
    public static void WriteGrayMp4(string path, IReadOnlyList<float[]> frames, int size, int fps)
    {
        string temp = path + ".tmp.mp4";
        var info = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (
            var a in new[]
            {
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
            }
        )
        {
            info.ArgumentList.Add(a);
        }
        try
        {
            using var p = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start");
            var errors = Task.Run(() => p.StandardError.ReadToEnd());
            var buffer = new byte[size * size];
            using (var input = p.StandardInput.BaseStream)
            {
                foreach (var f in frames)
                {
                    if (f.Length != buffer.Length)
                    {
                        throw new ArgumentException($"{path}: frame of {f.Length} values, expected {buffer.Length}");
                    }
                    for (int i = 0; i < f.Length; i++)
                    {
                        buffer[i] = (byte)Math.Clamp(Math.Round(255 * f[i]), 0, 255);
                    }
                    input.Write(buffer);
                }
            }
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg failed writing {path}: {errors.Result.Trim()}");
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("ffmpeg is not installed (Debian: apt-get install ffmpeg)", e);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
