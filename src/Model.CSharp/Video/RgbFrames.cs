using static TorchSharp.torch;

namespace Research.Model.Video;

/// <summary>
/// Decoded video frames as 8-bit RGB, row-major (frames, height, width, 3): ffmpeg's rgb24 layout.
/// </summary>
public sealed class RgbFrames
{
    /// <summary>The pixels, (Count, Height, Width, 3) row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>Number of frames.</summary>
    public int Count { get; }

    /// <summary>Frame height in pixels.</summary>
    public int Height { get; }

    /// <summary>Frame width in pixels.</summary>
    public int Width { get; }

    /// <summary>Bytes per frame: Height · Width · 3.</summary>
    public int FrameBytes => Height * Width * 3;

    /// <summary>Frames over <paramref name="pixels"/> (Count · Height · Width · 3 bytes, not copied).</summary>
    public RgbFrames(byte[] pixels, int count, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (pixels.LongLength != (long)count * height * width * 3)
        {
            throw new ArgumentException(
                $"{pixels.LongLength} bytes are not {count} frames of {width}x{height} rgb24 ({(long)count * height * width * 3} bytes)"
            );
        }
        Pixels = pixels;
        Count = count;
        Height = height;
        Width = width;
    }

    /// <summary>One frame's bytes, (Height, Width, 3) row-major.</summary>
    public ReadOnlySpan<byte> Frame(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * FrameBytes, FrameBytes);
    }

    /// <summary>Frames [start, start + count) as float32 (count, 3, Height, Width) in [0, 1] (byte / 255).</summary>
    public Tensor ToTensor(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Count);
        var bytes = new byte[count * FrameBytes];
        Array.Copy(Pixels, start * FrameBytes, bytes, 0, bytes.Length);
        using var hwc = tensor(bytes, [count, Height, Width, 3]); // (N, H, W, 3) uint8
        return hwc.permute(0, 3, 1, 2).to_type(ScalarType.Float32).div_(255f).contiguous(); // (N, 3, H, W)
    }

    /// <summary>All frames as float32 (Count, 3, Height, Width) in [0, 1].</summary>
    public Tensor ToTensor() => ToTensor(0, Count);
}
