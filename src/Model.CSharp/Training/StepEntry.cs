namespace Research.Model.Training;

/// <summary>One step line of a metrics log: the step's numbers, the epoch, the throughput and when it was written.</summary>
public sealed record StepEntry(StepResult Result, int Epoch, double ItemsPerSecond, DateTimeOffset Time)
{
    /// <summary>The optimisation step (1-based).</summary>
    public long Step => Result.Step;
}
