using System.Diagnostics;
using Research.Model.Models;
using Research.Model.Runtime;
using Research.Model.Text;
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
        // Parameters the model trains at a multiple of the schedule (its ScaledParameters) get Adam groups of their
        // own; the rest form group 0 at the scheduled rate.
        var scaled = model.ScaledParameters;
        if (scaled.Count == 0)
        {
            Optimizer = optim.Adam(model.parameters(), lr: schedule.At(1), beta1: 0.9, beta2: 0.98, eps: 1e-9);
            groupScales = [1.0];
        }
        else
        {
            var handles = scaled.Select(s => s.Parameter.Handle).ToHashSet();
            var rest = model.parameters().Where(p => !handles.Contains(p.Handle)).ToArray();
            double lr = schedule.At(1);
            var groups = new List<Adam.ParamGroup> { new(rest, lr, 0.9, 0.98, 1e-9) };
            groups.AddRange(scaled.Select(s => new Adam.ParamGroup([s.Parameter], lr * s.Scale, 0.9, 0.98, 1e-9)));
            Optimizer = optim.Adam(groups, lr: lr, beta1: 0.9, beta2: 0.98, eps: 1e-9);
            groupScales = [1.0, .. scaled.Select(s => s.Scale)];
        }
        parameters = Optimizer.parameters().ToArray();
        hadGradient = new bool[parameters.Length];
    }

    /// <summary>The optimiser's parameters, in its order.</summary>
    readonly Parameter[] parameters;

    /// <summary>Whether each parameter has had a gradient in an earlier step (then it keeps one, zero where unused).</summary>
    readonly bool[] hadGradient;

    /// <summary>
    /// Clear the gradients before each step with the optimiser's <c>zero_grad</c> (fills them with zeros; backward
    /// then adds into them) instead of dropping them; the same update. The benchmark measures both in one run.
    /// </summary>
    public bool UseZeroGrad { get; set; }

    /// <summary>Before the forward pass: the optimiser's <c>zero_grad</c>, or (the default) <see cref="DropGradients"/>.</summary>
    void ClearGradients()
    {
        if (UseZeroGrad)
        {
            Optimizer.zero_grad();
            return;
        }
        DropGradients(parameters);
    }

    /// <summary>
    /// Drops the parameters' gradients, so that the next backward writes them instead of adding them to zeros
    /// (saving <c>zero_grad</c>'s fill and an addition per parameter tensor; PyTorch's <c>set_to_none</c>).
    /// </summary>
    public static void DropGradients(IEnumerable<Parameter> parameters)
    {
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            if (grad is not null)
            {
                p.grad = null;
            }
        }
    }

    /// <summary>
    /// After backward: a parameter that had a gradient before but got none this step gets a zero one, as
    /// <c>zero_grad</c> would have left it, so that Adam updates it exactly as before (its moments decay, the
    /// parameter moves by them).
    /// </summary>
    void RestoreUnusedGradients()
    {
        for (int i = 0; i < parameters.Length; i++)
        {
            using var grad = parameters[i].grad;
            if (grad is not null)
            {
                hadGradient[i] = true;
            }
            else if (hadGradient[i])
            {
                parameters[i].grad = zeros_like(parameters[i]).DetachFromDisposeScope();
            }
        }
    }

    /// <summary>The multiple of the scheduled learning rate of each Adam group, in group order.</summary>
    readonly double[] groupScales;

    /// <summary>Sets every group's learning rate for a step: the schedule's, times the group's scale.</summary>
    void SetLearningRate(double lr)
    {
        int i = 0;
        foreach (var group in Optimizer.ParamGroups)
        {
            group.LearningRate = lr * groupScales[i++];
        }
    }

    /// <summary>
    /// Clip and update with TorchSharp's own calls (<c>clip_grad_norm_</c>, then <c>Adam.step()</c>: ~11 libtorch ops per
    /// parameter tensor) instead of <see cref="FusedAdam"/>'s one pass; the same update up to float rounding. The
    /// benchmark measures both in one run.
    /// </summary>
    public bool UseTorchAdam { get; set; }

    /// <summary>Clips the gradients' global norm to the step's maximum and updates the parameters; returns the norm before clipping.</summary>
    double ClipAndStep()
    {
        if (!UseTorchAdam)
        {
            return FusedAdam.ClipAndStep(Optimizer, clipNorm);
        }
        double norm = nn.utils.clip_grad_norm_(model.parameters().ToArray(), clipNorm);
        Optimizer.step();
        return norm;
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

    /// <summary>The gradient exchange of a data-parallel run (null in one process).</summary>
    public GradientReducer? Reducer { get; private set; }

    /// <summary>Makes the following steps data-parallel over <paramref name="communicator"/>'s ranks.</summary>
    public void Distribute(ICommunicator communicator, long bucketBytes = GradientReducer.DefaultBucketBytes)
    {
        Reducer = communicator.Size > 1 ? new GradientReducer(communicator, model.parameters(), bucketBytes) : null;
        this.communicator = communicator;
    }

    ICommunicator communicator = SingleProcessCommunicator.Instance;

    /// <summary>
    /// One data-parallel step: this rank's share of a global batch (null input when its share is empty). Every rank
    /// learns the global batch's token and item counts, scales its loss terms by its shares of them
    /// (<see cref="LossShares"/>), back-propagates, and the gradients are summed over the ranks: the update is the one
    /// a single process makes on the whole batch (up to float32 summation order). Returns the whole batch's loss terms.
    /// </summary>
    public StepResult RunShare(EncoderInput? input, Targets? targets, int items) =>
        CollectionGuard.Run(() => UnguardedShare(input, targets, items));

    StepResult UnguardedShare(EncoderInput? input, Targets? targets, int items)
    {
        var reducer = Reducer ?? throw new InvalidOperationException("RunShare needs Distribute with more than one rank");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        long step = Steps + 1;
        double lr = schedule.At(step);
        SetLearningRate(lr);
        model.train();
        ClearGradients();
        long tokens = targets?.AsrTarget is { } t ? t.ne(CharVocabulary.Pad).sum().item<long>() : 0;
        var counts = tensor(new long[] { tokens, items });
        communicator.AllReduceSum(counts);
        long globalTokens = counts[0].item<long>(),
            globalItems = counts[1].item<long>();
        // total, asr, speaker, emotion, and which of the terms exist.
        var terms = zeros(8, dtype: ScalarType.Float64);
        if (input is not null && targets is not null && items > 0)
        {
            var shares = new LossShares(globalTokens > 0 ? (double)tokens / globalTokens : 0.0, (double)items / globalItems);
            var output = model.Forward(input, targets.AsrInput);
            var loss = criterion.Compute(output, targets, shares);
            Tensor?[] parts = [loss.Total, loss.Asr, loss.Speaker, loss.Emotion];
            for (int i = 0; i < parts.Length; i++)
            {
                if (parts[i] is { } part)
                {
                    terms[i] = part.detach().to(ScalarType.Float64);
                    terms[4 + i] = 1.0;
                }
            }
            loss.Total.backward();
        }
        RestoreUnusedGradients();
        reducer.SumGradients(terms);
        var sums = terms.data<double>().ToArray();
        double total = sums[0];
        double? Term(int i) => sums[4 + i] > 0 ? sums[i] : null;
        if (!double.IsFinite(total))
        {
            Optimizer.zero_grad();
            throw new ArithmeticException($"step {step}: loss is {total} (asr {Term(1)}, speaker {Term(2)}, emotion {Term(3)})");
        }
        double norm = ClipAndStep();
        Steps = step;
        return new StepResult(step, lr, total, Term(1), Term(2), Term(3), norm, clock.Elapsed.TotalMilliseconds);
    }

    StepResult Unguarded(EncoderInput input, Targets targets)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        long step = Steps + 1;
        double lr = schedule.At(step);
        SetLearningRate(lr);
        model.train();
        ClearGradients();
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
        RestoreUnusedGradients();
        double norm = ClipAndStep();
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
