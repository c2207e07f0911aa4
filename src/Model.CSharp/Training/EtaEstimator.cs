namespace Research.Model.Training;

/// <summary>
/// Time left from the mean of the last <see cref="Window"/> step times (a moving average: a slow first step, a
/// warm-up, or a change of speed fades out after a window, unlike a mean over the whole history).
/// </summary>
public sealed class EtaEstimator
{
    readonly double[] seconds;
    int count;
    int next;

    /// <param name="window">how many recent step times the mean covers (at least 1)</param>
    public EtaEstimator(int window = 50)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        seconds = new double[window];
    }

    /// <summary>How many recent step times the mean covers.</summary>
    public int Window => seconds.Length;

    /// <summary>The step times held (at most <see cref="Window"/>).</summary>
    public int Count => count;

    /// <summary>Adds the time one step took; the oldest falls out once the window is full.</summary>
    public void Add(TimeSpan stepTime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepTime, TimeSpan.Zero);
        seconds[next] = stepTime.TotalSeconds;
        next = (next + 1) % seconds.Length;
        count = Math.Min(count + 1, seconds.Length);
    }

    /// <summary>The mean of the recent step times; null before the first.</summary>
    public TimeSpan? PerStep
    {
        get
        {
            if (count == 0)
            {
                return null;
            }
            double sum = 0;
            for (int i = 0; i < count; i++)
            {
                sum += seconds[i];
            }
            return TimeSpan.FromSeconds(sum / count);
        }
    }

    /// <summary>The time <paramref name="stepsLeft"/> more steps take at the recent mean; null before the first step time.</summary>
    public TimeSpan? Remaining(long stepsLeft) =>
        PerStep is TimeSpan perStep ? TimeSpan.FromSeconds(perStep.TotalSeconds * Math.Max(0, stepsLeft)) : null;
}
