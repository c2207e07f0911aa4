namespace Research.Model.Video;

/// <summary>
/// The demo's visual feature, 4096 values per frame like VGG-16's fc7 so the model is unchanged: the frame as a
/// 64×64 grayscale image, standardised. Used because pretrained VGG-16 weights cannot be downloaded here and a
/// randomly initialised VGG-16 costs ~15.5 G multiply-adds (~0.35 s here) per 224×224 frame on a 2-core CPU while telling nothing about
/// the picture; this feature is cheap and still carries the picture (layout, motion, brightness pattern).
/// It is <b>not</b> the paper's feature: results with it are demo results.
/// <para>Exactly, for an RGB frame of any size H×W with bytes R, G, B:</para>
/// <list type="number">
/// <item>grayscale Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma, as ffmpeg's gray and PIL's "L");</item>
/// <item>resized to 64×64 by area averaging: output pixel (i, j) is the mean of Y over the source rectangle
/// [i·H/64, (i+1)·H/64) × [j·W/64, (j+1)·W/64), each source pixel weighted by its overlap (OpenCV's INTER_AREA;
/// for frames smaller than 64 it repeats pixels);</item>
/// <item>scaled to [0, 1] (÷ 255);</item>
/// <item>standardised over the frame's 4096 values: (x − mean) / std with the population std; a constant frame
/// (std &lt; 1e-6) gives zeros. This removes the frame's brightness and contrast, as ImageNet normalisation
/// steadies VGG's input;</item>
/// <item>flattened row-major: feature[64·i + j].</item>
/// </list>
/// From a video file the frames are decoded by ffmpeg directly at 64×64 with its area scaler (<c>flags=area</c>),
/// then steps 1 and 3–5 apply; scaling before rather than after the grayscale conversion differs only by the
/// rounding of the scaled RGB bytes, since both steps are linear.
/// </summary>
public sealed class VisualFeatures : IFrameFeatureExtractor
{
    /// <summary>Default side of the grayscale image: 64, so 4096 features as VGG-16's fc7.</summary>
    public const int DefaultSide = 64;

    /// <summary>Features per frame at the default side: 64 · 64 = 4096, as VGG-16's fc7.</summary>
    public const int FeatureDimension = DefaultSide * DefaultSide;

    /// <summary>The extractor at the default side (it has no state beyond its side).</summary>
    public static VisualFeatures Instance { get; } = new(DefaultSide);

    /// <summary>An extractor giving side² features per frame (the demo corpus uses 32: 1024 features).</summary>
    public VisualFeatures(int side)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 2);
        Side = side;
    }

    /// <summary>Side of the grayscale image.</summary>
    public int Side { get; }

    /// <inheritdoc />
    public int Dimension => Side * Side;

    /// <inheritdoc />
    public int FrameWidth => Side;

    /// <inheritdoc />
    public int FrameHeight => Side;

    /// <inheritdoc />
    public string? ScaleFlags => "area";

    /// <inheritdoc />
    public float[,] Extract(RgbFrames frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        var result = new float[frames.Count, Dimension];
        for (int f = 0; f < frames.Count; f++)
        {
            float[] row = FromFrame(frames.Frame(f), frames.Height, frames.Width, Side);
            Buffer.BlockCopy(row, 0, result, f * Dimension * sizeof(float), Dimension * sizeof(float));
        }
        return result;
    }

    /// <summary>The feature of one RGB frame given as (H, W, 3) bytes.</summary>
    public static float[] FromFrame(byte[,,] rgb, int side = DefaultSide)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.GetLength(2) != 3)
        {
            throw new ArgumentException($"an RGB frame is (H, W, 3); got ({rgb.GetLength(0)}, {rgb.GetLength(1)}, {rgb.GetLength(2)})");
        }
        var bytes = new byte[rgb.Length];
        Buffer.BlockCopy(rgb, 0, bytes, 0, bytes.Length);
        return FromFrame(bytes, rgb.GetLength(0), rgb.GetLength(1), side);
    }

    /// <summary>The feature of one RGB frame given as (height, width, 3) bytes, row-major.</summary>
    public static float[] FromFrame(ReadOnlySpan<byte> rgb, int height, int width, int side = DefaultSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (rgb.Length != height * width * 3)
        {
            throw new ArgumentException($"{rgb.Length} bytes are not a {width}x{height} RGB frame ({height * width * 3} bytes)");
        }
        var gray = new double[height * width];
        for (int p = 0; p < gray.Length; p++)
        {
            gray[p] = 0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2];
        }
        return Standardise(ResizeArea(gray, height, width, side));
    }

    /// <summary>
    /// The feature of a grey-level image with values in [0, 1] (row-major, height × width), e.g. a rendered
    /// frame: steps 2–5 above (resize by area, standardise).
    /// </summary>
    public static float[] FromGray(ReadOnlySpan<float> gray, int height, int width, int side = DefaultSide)
    {
        if (gray.Length != height * width)
        {
            throw new ArgumentException($"{gray.Length} values are not a {width}x{height} image");
        }
        var scaled = new double[gray.Length];
        for (int p = 0; p < scaled.Length; p++)
        {
            scaled[p] = 255.0 * gray[p];
        }
        return Standardise(ResizeArea(scaled, height, width, side));
    }

    static float[] Standardise(double[] small)
    {
        double mean = 0;
        foreach (double v in small)
        {
            mean += v / 255.0;
        }
        mean /= small.Length;
        double variance = 0;
        foreach (double v in small)
        {
            double d = v / 255.0 - mean;
            variance += d * d;
        }
        double std = Math.Sqrt(variance / small.Length);
        var result = new float[small.Length];
        if (std >= 1e-6)
        {
            for (int k = 0; k < result.Length; k++)
            {
                result[k] = (float)((small[k] / 255.0 - mean) / std);
            }
        }
        return result;
    }

    /// <summary>Area-averaging resize of a (height, width) image to (side, side), separably: rows, then columns.</summary>
    static double[] ResizeArea(double[] image, int height, int width, int side)
    {
        var (colStart, colWeights) = AreaWeights(width, side);
        var (rowStart, rowWeights) = AreaWeights(height, side);
        var across = new double[height * side]; // (height, side)
        for (int y = 0; y < height; y++)
        {
            for (int j = 0; j < side; j++)
            {
                double sum = 0;
                for (int k = 0; k < colWeights[j].Length; k++)
                {
                    sum += colWeights[j][k] * image[y * width + colStart[j] + k];
                }
                across[y * side + j] = sum;
            }
        }
        var result = new double[side * side];
        for (int i = 0; i < side; i++)
        {
            for (int j = 0; j < side; j++)
            {
                double sum = 0;
                for (int k = 0; k < rowWeights[i].Length; k++)
                {
                    sum += rowWeights[i][k] * across[(rowStart[i] + k) * side + j];
                }
                result[i * side + j] = sum;
            }
        }
        return result;
    }

    /// <summary>
    /// For each output index i along an axis of n source pixels: the first source pixel overlapping
    /// [i·n/side, (i+1)·n/side) and the overlaps of the pixels from there on, divided by the interval's length.
    /// </summary>
    static (int[] start, double[][] weights) AreaWeights(int n, int side)
    {
        var start = new int[side];
        var weights = new double[side][];
        double scale = (double)n / side;
        for (int i = 0; i < side; i++)
        {
            double lo = i * scale,
                hi = (i + 1) * scale;
            int first = (int)Math.Floor(lo);
            int last = Math.Min(n - 1, (int)Math.Ceiling(hi) - 1);
            start[i] = first;
            weights[i] = new double[last - first + 1];
            for (int p = first; p <= last; p++)
            {
                weights[i][p - first] = (Math.Min(hi, p + 1) - Math.Max(lo, p)) / scale;
            }
        }
        return (start, weights);
    }

    /// <summary>
    /// Features of the frames of a video file at <paramref name="fps"/>: (frames, side²). Needs ffmpeg
    /// (<see cref="VideoFrames"/>); errors name the file.
    /// </summary>
    public static float[,] FromVideo(string path, double fps, int side = DefaultSide, string ffmpeg = "ffmpeg") =>
        VideoFeatures.FromFile(path, fps, side == DefaultSide ? Instance : new VisualFeatures(side), ffmpeg);
}
