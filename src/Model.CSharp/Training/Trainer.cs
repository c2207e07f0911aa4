using System.Diagnostics;
using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>What a trainer reports while it runs (progress displays, logs).</summary>
public interface ITrainingObserver
{
    /// <summary>The run starts at <paramref name="fromStep"/> + 1 of <paramref name="totalSteps"/> (resumed when fromStep &gt; 0).</summary>
    void Started(long fromStep, long totalSteps);

    /// <summary>A step finished.</summary>
    void Stepped(StepResult result, int epoch, double itemsPerSecond);

    /// <summary>An evaluation finished.</summary>
    void Evaluated(long step, IReadOnlyDictionary<string, double> metrics);

    /// <summary>Anything else worth a line.</summary>
    void Message(string text);
}

/// <summary>How long and how a trainer runs.</summary>
public sealed record TrainerOptions
{
    /// <summary>Optimisation steps in all.</summary>
    public long Steps { get; init; } = 1000;

    /// <summary>Items per batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Evaluate every this many steps (and after the last).</summary>
    public int EvaluateEvery { get; init; } = 200;

    /// <summary>Write a checkpoint every this many steps (and after the last).</summary>
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Seed of the data order (the model's initialisation is the caller's).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Evaluate once before the first step of a fresh run (the starting point of the curves).</summary>
    public bool EvaluateAtStart { get; init; } = true;
}

/// <summary>The loss of a step was not finite: the run stopped before updating anything; the last checkpoint is kept.</summary>
public sealed class TrainingDivergedException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The training loop shared by pre-training, fine-tuning and the baselines: length-bucketed batches, one
/// <see cref="TrainStep"/> each, evaluation and best-model selection every so often, and checkpoints from which a
/// run killed at any moment continues exactly (same batches, same random numbers, same result).
/// </summary>
public static class Trainer
{
    /// <summary>
    /// Trains until <see cref="TrainerOptions.Steps"/>, resuming from <paramref name="checkpointPath"/> when it exists.
    /// </summary>
    /// <param name="step">the step function (model, criterion, optimiser, schedule)</param>
    /// <param name="model">the model being trained (saved in checkpoints)</param>
    /// <param name="train">training items</param>
    /// <param name="device">where batches go</param>
    /// <param name="options">budget and cadence</param>
    /// <param name="checkpointPath">the run's checkpoint file</param>
    /// <param name="config">the resolved config (JSON); a checkpoint of another config is refused</param>
    /// <param name="evaluate">computes metrics (plain numbers) on held-out data, or null</param>
    /// <param name="selectionKey">the metric that selects the best model (higher is better), or null</param>
    /// <param name="bestModelPath">where the best model's weights go when <paramref name="selectionKey"/> is set</param>
    /// <param name="observer">progress and logs</param>
    /// <param name="communicator">
    /// the job's ranks (null: one process). With several ranks every rank holds a replica: parameters are broadcast from
    /// rank 0 at the start, each rank takes its share (<see cref="DataParallel.Share"/>) of every global batch of
    /// <see cref="TrainerOptions.BatchSize"/> items and gradients are summed before clipping and Adam; only rank 0
    /// evaluates, reports and writes checkpoints and the best model (the run folder must be visible to every rank).
    /// </param>
    public static TrainerState Run(
        TrainStep step,
        nn.Module model,
        IBatchSource train,
        Device device,
        TrainerOptions options,
        string checkpointPath,
        string config,
        Func<IReadOnlyDictionary<string, double>>? evaluate,
        string? selectionKey,
        string? bestModelPath,
        ITrainingObserver observer,
        ICommunicator? communicator = null
    )
    {
        var comm = communicator ?? SingleProcessCommunicator.Instance;
        bool parallel = comm.Size > 1;
        bool lead = comm.Rank == 0;
        if (parallel)
        {
            DataParallel.CheckBatch(options.BatchSize, comm.Size);
            DataParallel.CheckAgreement(comm, config, options, train, model);
            step.Distribute(comm);
        }
        if (!lead)
        {
            observer = DataParallel.Silent;
        }
        var sampler = new LengthBucketSampler(train.Lengths, options.BatchSize, options.Seed);
        if (lead)
        {
            Checkpoint.RemoveStaleTemporaries(checkpointPath);
            if (bestModelPath is not null)
            {
                Checkpoint.RemoveStaleTemporaries(bestModelPath);
            }
        }
        var state = new TrainerState { Seed = options.Seed, Config = config };
        if (parallel)
        {
            comm.Barrier(); // rank 0 has removed stale temporaries before anyone looks for the checkpoint
        }
        // The newest intact checkpoint: a truncated or corrupt one falls back to the previous one, saying so.
        if (Checkpoint.LoadLatest(checkpointPath, model, step.Optimizer, config, observer.Message) is TrainerState resumed)
        {
            state = resumed;
            step.StartAt(state.Step);
            observer.Message($"resumed from {checkpointPath} at step {state.Step}");
        }
        if (parallel)
        {
            DataParallel.CheckResumeStep(comm, state.Step, checkpointPath);
            step.Reducer!.BroadcastParameters();
            observer.Message($"data-parallel: {comm.Engine}, global batch {options.BatchSize}");
        }
        observer.Started(state.Step, options.Steps);
        if (!lead)
        {
            evaluate = null;
        }
        if (evaluate is not null && options.EvaluateAtStart && state.Step == 0)
        {
            var initial = evaluate();
            observer.Evaluated(0, initial);
            state = state with { LastEvaluation = initial };
        }
        var clock = new Stopwatch();
        // Where this invocation's time goes, said at the end: steps (batch reading included), the collection guard's
        // collections, evaluations, checkpoints and best-model writes.
        var account = new TimeAccount(state.Step);
        while (state.Step < options.Steps)
        {
            long n = state.Step + 1;
            var (epoch, _) = sampler.Position(n);
            var items = sampler.ItemsOf(n);
            var share = parallel ? DataParallel.Share(items, comm.Rank, comm.Size) : items;
            clock.Restart();
            var guardBefore = CollectionGuard.CollectTime;
            // One dispose scope per step keeps native memory flat; the collection guard keeps finalizers (and so the
            // freeing of TorchSharp's temporaries) out of the step.
            StepResult result = CollectionGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                try
                {
                    if (parallel)
                    {
                        // Dropout masks from (seed, step, rank): a resumed run draws the same ones whatever it restored.
                        manual_seed(DataParallel.StepSeed(options.Seed, n, comm.Rank));
                        if (share.Length == 0)
                        {
                            return step.RunShare(null, null, 0);
                        }
                        var (shareInput, shareTargets) = train.Batch(share, device);
                        return step.RunShare(shareInput, shareTargets, share.Length);
                    }
                    var (input, targets) = train.Batch(items, device);
                    return step.Run(input, targets);
                }
                catch (ArithmeticException e)
                {
                    string ids = string.Join(", ", items.Select(train.Id));
                    throw new TrainingDivergedException(
                        $"{e.Message}; batch items: {ids}. The run stopped without updating; its last good checkpoint is {checkpointPath} (step {state.Step}).",
                        e
                    );
                }
            });
            state = state with { Step = n };
            account.Steps += clock.Elapsed;
            account.Guard += CollectionGuard.CollectTime - guardBefore;
            observer.Stepped(result, epoch, items.Length / Math.Max(1e-9, clock.Elapsed.TotalSeconds));
            bool last = n == options.Steps;
            if (evaluate is not null && (n % options.EvaluateEvery == 0 || last))
            {
                clock.Restart();
                var metrics = evaluate();
                account.Evaluations += clock.Elapsed;
                account.EvaluationCount++;
                observer.Evaluated(n, metrics);
                state = state with { LastEvaluation = metrics };
                if (selectionKey is not null && bestModelPath is not null)
                {
                    double score = metrics.TryGetValue(selectionKey, out var v)
                        ? v
                        : throw new KeyNotFoundException(
                            $"the evaluation has no '{selectionKey}' (it has {string.Join(", ", metrics.Keys)})"
                        );
                    if (state.BestScore is null || score > state.BestScore)
                    {
                        clock.Restart();
                        SaveWeights(model, bestModelPath);
                        account.Checkpoints += clock.Elapsed;
                        state = state with { BestScore = score, BestStep = n };
                        observer.Message($"step {n}: best {selectionKey} so far, {score:0.0000}; saved {bestModelPath}");
                    }
                }
            }
            if (lead && (n % options.CheckpointEvery == 0 || last))
            {
                clock.Restart();
                Checkpoint.Save(checkpointPath, state, model, step.Optimizer);
                account.Checkpoints += clock.Elapsed;
                account.CheckpointCount++;
            }
        }
        if (state.Step > account.FirstStep)
        {
            observer.Message(account.Summary(state.Step));
        }
        return state;
    }

    /// <summary>Writes a module's weights (TorchSharp format) atomically.</summary>
    public static void SaveWeights(nn.Module model, string path)
    {
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            model.save(temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}

/// <summary>Where a training invocation's time went (see <see cref="Trainer.Run"/>): its summary line names the steps,
/// the collection guard's share of them, the evaluations and the checkpoints.</summary>
sealed class TimeAccount(long firstStep)
{
    readonly Stopwatch wall = Stopwatch.StartNew();

    public long FirstStep { get; } = firstStep;
    public TimeSpan Steps { get; set; }
    public TimeSpan Guard { get; set; }
    public TimeSpan Evaluations { get; set; }
    public int EvaluationCount { get; set; }
    public TimeSpan Checkpoints { get; set; }
    public int CheckpointCount { get; set; }

    public string Summary(long lastStep)
    {
        long steps = lastStep - FirstStep;
        double guard = Guard.TotalSeconds;
        double total = wall.Elapsed.TotalSeconds;
        return $"time: {total:0.0} s = {steps} steps {Steps.TotalSeconds:0.0} s ({1000 * Steps.TotalSeconds / steps:0.0} ms/step, "
            + $"of which the collection guard {1000 * guard / steps:0.00} ms/step), {EvaluationCount} evaluations "
            + $"{Evaluations.TotalSeconds:0.0} s, checkpoints and best model {Checkpoints.TotalSeconds:0.0} s ({CheckpointCount} checkpoints), "
            + $"other {total - Steps.TotalSeconds - Evaluations.TotalSeconds - Checkpoints.TotalSeconds:0.0} s";
    }
}
