namespace Research.Model.Audio;

/// <summary>
/// Per-utterance cepstral mean and variance normalisation: each feature column gets mean 0 and variance 1 over
/// the utterance's frames (population variance). A column whose standard deviation is at most
/// <see cref="MinStd"/> · (1 + |mean|) (constant up to rounding) is only centred, never divided.
/// </summary>
public static class Cmvn
{
    /// <summary>Relative standard deviation below which a column counts as constant.</summary>
    public const double MinStd = 1e-6;

    /// <summary>Returns (x - mean) / std per column of <paramref name="frames"/> (T, D); T must be at least 1.</summary>
    /// <exception cref="ArgumentException">No frames; the message names <paramref name="item"/>.</exception>
    public static float[,] PerUtterance(float[,] frames, string item = "features")
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.GetLength(0) == 0)
        {
            throw new ArgumentException($"{item}: no frames to normalise");
        }
        var stats = new CmvnStats(frames.GetLength(1));
        stats.Add(frames, item);
        return stats.Apply(frames, item);
    }

    /// <summary>The scale 1 / std of a column, or 1 when the column is constant.</summary>
    internal static double InverseStd(double mean, double variance)
    {
        double std = Math.Sqrt(Math.Max(variance, 0));
        return std <= MinStd * (1 + Math.Abs(mean)) ? 1.0 : 1.0 / std;
    }
}
