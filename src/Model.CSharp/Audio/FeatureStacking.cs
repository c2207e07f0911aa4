namespace Research.Model.Audio;

/// <summary>
/// Non-overlapping stacking of consecutive frames: k frames of D features become one frame of k · D features
/// (frame t·k first), so 40-d features every 10 ms become 200-d features every 50 ms with k = 5 (the paper's
/// audio input, §4.1).
/// </summary>
public static class FeatureStacking
{
    /// <summary>
    /// Stacks every <paramref name="k"/> consecutive frames of <paramref name="frames"/> (T, D) into one row of
    /// (⌊T / k⌋, k · D): row i is frames i·k, ..., i·k + k - 1 concatenated. The last T mod k frames (fewer
    /// than k) are dropped.
    /// </summary>
    /// <exception cref="ArgumentException">T &lt; k or k &lt; 1; the message names <paramref name="item"/>.</exception>
    public static float[,] Stack(float[,] frames, int k, string item = "features")
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (k < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, "the number of frames to stack must be at least 1");
        }
        int t = frames.GetLength(0);
        int d = frames.GetLength(1);
        if (t < k)
        {
            throw new ArgumentException($"{item}: {t} frames cannot be stacked {k} at a time (need at least {k})");
        }
        int rows = t / k;
        var stacked = new float[rows, k * d];
        // Both arrays are row-major, so stacked row i is exactly frames i·k .. i·k + k - 1 laid end to end.
        Buffer.BlockCopy(frames, 0, stacked, 0, rows * k * d * sizeof(float));
        return stacked;
    }
}
