using System.Diagnostics;
using Research.Model.Models;
using Research.Model.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// What one optimisation step did, as plain numbers (null for a task with weight 0). Values: the model's learned
/// values after the step (<see cref="ITaskModel.LoggedValues"/>, e.g. learned modality weights), or null.
/// </summary>
public sealed record StepResult(
    long Step,
    double LearningRate,
    double Total,
    double? Asr,
    double? Speaker,
    double? Emotion,
    double GradNorm,
    double Milliseconds,
    IReadOnlyDictionary<string, double>? Values = null
);

/// <summary>
/// One optimisation step of an <see cref="ITaskModel"/> (the multi-task transformer or the late-fusion baseline):
/// forward, loss, backward, gradient clipping, Adam (β 0.9/0.98, ε 1e-9, as Speech-Transformer) at the scheduled
/// learning rate. Every tensor of the step
/// lives in its own dispose scope, so memory stays flat however long the run.
/// </summary>
public sealed class TrainStep
{
    readonly ITaskModel model;
    readonly MultiTaskCriterion criterion;
    readonly LearningRateSchedule schedule;
    readonly double clipNorm;

    public TrainStep(ITaskModel model, MultiTaskCriterion criterion, LearningRateSchedule schedule, double clipNorm = 5.0)
    {
        this.model = model;
        this.criterion = criterion;
        this.schedule = schedule;
        this.clipNorm = clipNorm;
        Optimizer = optim.Adam(model.parameters(), lr: schedule.At(1), beta1: 0.9, beta2: 0.98, eps: 1e-9);
    }

    /// <summary>The optimiser (its state belongs in checkpoints).</summary>
    public Adam Optimizer { get; }

    /// <summary>Steps taken so far.</summary>
    public long Steps { get; private set; }

    /// <summary>Continues counting after <paramref name="step"/> steps (when a run resumes from a checkpoint).</summary>
    public void StartAt(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        Steps = step;
    }

    /// <summary>Runs one step on a batch and returns its loss terms; throws, naming the step and terms, on a non-finite loss.</summary>
    public StepResult Run(EncoderInput input, Targets targets) => CollectionGuard.Run(() => Unguarded(input, targets));

    StepResult Unguarded(EncoderInput input, Targets targets)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        long step = Steps + 1;
        double lr = schedule.At(step);
        foreach (var group in Optimizer.ParamGroups)
        {
            group.LearningRate = lr;
        }
        model.train();
        Optimizer.zero_grad();
        var output = model.Forward(input, targets.AsrInput);
        var loss = criterion.Compute(output, targets);
        double total = loss.Total.item<float>();
        double? Value(Tensor? t) => t is null ? null : t.item<float>();
        if (!double.IsFinite(total))
        {
            throw new ArithmeticException(
                $"step {step}: loss is {total} (asr {Value(loss.Asr)}, speaker {Value(loss.Speaker)}, emotion {Value(loss.Emotion)})"
            );
        }
        loss.Total.backward();
        double norm = nn.utils.clip_grad_norm_(model.parameters().ToArray(), clipNorm);
        Optimizer.step();
        Steps = step;
        return new StepResult(
            step,
            lr,
            total,
            Value(loss.Asr),
            Value(loss.Speaker),
            Value(loss.Emotion),
            norm,
            clock.Elapsed.TotalMilliseconds,
            model.LoggedValues
        );
    }
}
