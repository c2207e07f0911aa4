using System.Security.Cryptography;
using System.Text;
using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>The ranks of a data-parallel job disagree on what they train (config, data or model).</summary>
public sealed class RanksDisagreeException(string message) : Exception(message);

/// <summary>
/// The pieces of data-parallel training besides the gradient exchange (<see cref="GradientReducer"/>): how a global
/// batch is shared among ranks, the agreement check at the start, and per-rank random seeds.
/// </summary>
public static class DataParallel
{
    /// <summary>
    /// Rank <paramref name="rank"/>'s items of a global batch: every <paramref name="size"/>-th item from position
    /// <paramref name="rank"/> (the batch is sorted by length, so the shares pad alike). The shares are disjoint and
    /// cover the batch; the data position is the step alone, so a run resumes with any number of ranks.
    /// </summary>
    public static int[] Share(int[] items, int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        return [.. items.Where((_, i) => i % size == rank)];
    }

    /// <summary>Refuses more ranks than items in a global batch (some rank would never have an item).</summary>
    public static void CheckBatch(int batchSize, int ranks)
    {
        if (ranks > batchSize)
        {
            throw new ArgumentException(
                $"{ranks} ranks for a global batch of {batchSize} items: every rank needs at least one item per batch; use at most {batchSize} ranks or a larger batch"
            );
        }
    }

    /// <summary>The torch seed of rank <paramref name="rank"/> at step <paramref name="step"/> of a run seeded <paramref name="seed"/>.</summary>
    public static long StepSeed(int seed, long step, int rank) =>
        unchecked((long)seed * 1_000_003L + step * 7_919L + rank * 104_729L + 13L) & long.MaxValue;

    /// <summary>An observer that reports nothing (ranks other than 0).</summary>
    public static readonly ITrainingObserver Silent = new SilentObserver();

    sealed class SilentObserver : ITrainingObserver
    {
        public void Started(long fromStep, long totalSteps) { }

        public void Stepped(StepResult result, int epoch, double itemsPerSecond) { }

        public void Evaluated(long step, IReadOnlyDictionary<string, double> metrics) { }

        public void Message(string text) { }
    }

    static long Hash(string text) => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0);

    /// <summary>The three fingerprints every rank must share: config and options, training data, model shapes.</summary>
    public static (long config, long data, long model) Fingerprints(
        string config,
        TrainerOptions options,
        IBatchSource train,
        nn.Module model
    )
    {
        var data = new StringBuilder();
        for (int i = 0; i < train.Count; i++)
        {
            data.Append(train.Id(i)).Append(':').Append(train.Lengths[i]).Append('\n');
        }
        var shapes = new StringBuilder();
        foreach (var (name, p) in model.named_parameters())
        {
            shapes.Append(name).Append(':').Append(string.Join('x', p.shape)).Append('\n');
        }
        return (Hash(config + "\n" + options), Hash(data.ToString()), Hash(shapes.ToString()));
    }

    /// <summary>
    /// Every rank compares its fingerprints with rank 0's; when any differs, every rank throws naming the ranks and
    /// what differs (config, data, model), before anything is written.
    /// </summary>
    public static void CheckAgreement(ICommunicator comm, string config, TrainerOptions options, IBatchSource train, nn.Module model)
    {
        var (c, d, m) = Fingerprints(config, options, train, model);
        var mine = tensor(new[] { c, d, m });
        var root = mine.clone();
        comm.Broadcast(root, 0);
        var theirs = root.data<long>().ToArray();
        long mask = (c != theirs[0] ? 1 : 0) | (d != theirs[1] ? 2 : 0) | (m != theirs[2] ? 4 : 0);
        var masks = zeros(comm.Size, dtype: ScalarType.Int64);
        masks[comm.Rank] = tensor(mask);
        comm.AllReduceSum(masks);
        var all = masks.data<long>().ToArray();
        var problems = Enumerable
            .Range(0, comm.Size)
            .Where(r => all[r] != 0)
            .Select(r =>
            {
                var what = new List<string>();
                if ((all[r] & 1) != 0)
                {
                    what.Add("config or trainer options");
                }
                if ((all[r] & 2) != 0)
                {
                    what.Add("training data (item ids or lengths)");
                }
                if ((all[r] & 4) != 0)
                {
                    what.Add("model parameters (names or shapes)");
                }
                return $"rank {r} differs from rank 0 in its {string.Join(" and ", what)}";
            })
            .ToList();
        if (problems.Count > 0)
        {
            throw new RanksDisagreeException(
                $"the ranks of this job do not train the same thing: {string.Join("; ", problems)}. Start every rank with the same command, config and data."
            );
        }
    }

    /// <summary>Every rank must resume from the step rank 0 resumes from (the run folder is shared), else a named error.</summary>
    public static void CheckResumeStep(ICommunicator comm, long step, string checkpointPath)
    {
        var steps = zeros(comm.Size, dtype: ScalarType.Int64);
        steps[comm.Rank] = tensor(step);
        comm.AllReduceSum(steps);
        var all = steps.data<long>().ToArray();
        var off = Enumerable.Range(1, comm.Size - 1).Where(r => all[r] != all[0]).ToList();
        if (off.Count > 0)
        {
            throw new RanksDisagreeException(
                $"rank 0 resumes {checkpointPath} at step {all[0]} but {string.Join(", ", off.Select(r => $"rank {r} at step {all[r]}"))}: the run folder must be on a file system every rank sees"
            );
        }
    }
}
