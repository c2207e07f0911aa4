namespace Research.Model.Training;

/// <summary>
/// Connects a <see cref="Trainer"/> to a run folder: every step and evaluation goes to the run's JSON-lines log and
/// to a progress display. When the run resumes from a checkpoint at step S, log lines after S (written by the killed
/// process after its last checkpoint) are dropped first, so the log reads as one uninterrupted run.
/// </summary>
public sealed class RunObserver(RunFolder run, string evaluationSplit, ProgressOptions? progressOptions = null)
    : ITrainingObserver,
        IDisposable
{
    Progress? progress;

    /// <inheritdoc />
    public void Started(long fromStep, long totalSteps)
    {
        int dropped = run.Log.TruncateAfter(fromStep);
        progress = new Progress(totalSteps, progressOptions);
        if (dropped > 0)
        {
            progress.Message($"log: dropped {dropped} line(s) written after the checkpoint of step {fromStep}");
        }
    }

    /// <inheritdoc />
    public void Stepped(StepResult result, int epoch, double itemsPerSecond)
    {
        run.Log.Step(result, epoch, itemsPerSecond);
        progress?.Step(result, epoch, itemsPerSecond);
    }

    /// <inheritdoc />
    public void Evaluated(long step, IReadOnlyDictionary<string, double> metrics)
    {
        run.Log.Evaluation(step, metrics, evaluationSplit);
        progress?.Evaluation(step, metrics, evaluationSplit);
    }

    /// <inheritdoc />
    public void Message(string text)
    {
        if (progress is null)
        {
            Console.WriteLine(text);
        }
        else
        {
            progress.Message(text);
        }
    }

    /// <inheritdoc />
    public void Dispose() => progress?.Dispose();
}
