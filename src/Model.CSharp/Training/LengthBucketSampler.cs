namespace Research.Model.Training;

/// <summary>
/// Length-bucketed batches, deterministic from (seed, epoch): the items are shuffled, cut into pools of
/// <see cref="PoolBatches"/> batches, each pool sorted by length and cut into batches (so a batch pads little), and
/// the batch order shuffled. Step n of a run (from 1) is batch (n − 1) mod B of epoch (n − 1) / B, B = batches per
/// epoch: the data position follows from the step alone, which makes resuming exact.
/// </summary>
public sealed class LengthBucketSampler
{
    readonly IReadOnlyList<long> lengths;
    readonly int seed;
    int cachedEpoch = -1;
    IReadOnlyList<int[]> cached = [];

    /// <summary>Batches sorted together for length.</summary>
    public const int PoolBatches = 50;

    public LengthBucketSampler(IReadOnlyList<long> lengths, int batchSize, int seed)
    {
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be at least 1");
        }
        if (lengths.Count < batchSize)
        {
            throw new ArgumentException($"the corpus has {lengths.Count} items, fewer than one batch of {batchSize}");
        }
        this.lengths = lengths;
        this.seed = seed;
        BatchSize = batchSize;
        BatchesPerEpoch = (lengths.Count + batchSize - 1) / batchSize;
    }

    /// <summary>Items per batch (the last batch of an epoch may have fewer).</summary>
    public int BatchSize { get; }

    /// <summary>Batches in one pass over the items.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Epoch and batch index (both from 0) of step n (from 1).</summary>
    public (int epoch, int batch) Position(long step)
    {
        if (step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "steps count from 1");
        }
        return ((int)((step - 1) / BatchesPerEpoch), (int)((step - 1) % BatchesPerEpoch));
    }

    /// <summary>The items of step n.</summary>
    public int[] ItemsOf(long step)
    {
        var (epoch, batch) = Position(step);
        return Epoch(epoch)[batch];
    }

    /// <summary>All batches of an epoch, in order.</summary>
    public IReadOnlyList<int[]> Epoch(int epoch)
    {
        if (epoch == cachedEpoch)
        {
            return cached;
        }
        var rng = new Random(unchecked(seed * 7919 + epoch * 104729 + 17));
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        rng.Shuffle(order);
        var batches = new List<int[]>(BatchesPerEpoch);
        int pool = BatchSize * PoolBatches;
        for (int start = 0; start < order.Length; start += pool)
        {
            var sorted = order.Skip(start).Take(pool).OrderBy(i => lengths[i]).ThenBy(i => i).ToArray();
            for (int b = 0; b < sorted.Length; b += BatchSize)
            {
                batches.Add(sorted.Skip(b).Take(BatchSize).ToArray());
            }
        }
        var shuffled = batches.ToArray();
        rng.Shuffle(shuffled);
        cachedEpoch = epoch;
        cached = shuffled;
        return cached;
    }
}
