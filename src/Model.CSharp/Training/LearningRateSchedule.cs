namespace Research.Model.Training;

/// <summary>
/// The Speech-Transformer schedule [24] the paper trains with: lr(n) = k · d^-0.5 · min(n^-0.5, n · warmup^-1.5),
/// a linear warm-up for <c>warmup</c> steps, then decay with the inverse square root of the step n (from 1).
/// </summary>
public sealed record LearningRateSchedule(double K, int DModel, int Warmup)
{
    /// <summary>The learning rate of step n (n ≥ 1).</summary>
    public double At(long step)
    {
        if (step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "steps count from 1");
        }
        return K * Math.Pow(DModel, -0.5) * Math.Min(Math.Pow(step, -0.5), step * Math.Pow(Warmup, -1.5));
    }
}
