using System.Diagnostics;
using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// Sums the gradients of a model's parameters over the ranks of a job with one all-reduce per bucket: parameters are
/// grouped, in their fixed order, into buckets of at most <see cref="BucketBytes"/> (a larger parameter gets a bucket of
/// its own), each bucket's gradients are flattened into one contiguous buffer, reduced in place and copied back. Also
/// broadcasts parameters (start of a run). Every rank must hold the same parameters in the same order.
/// </summary>
public sealed class GradientReducer
{
    readonly ICommunicator communicator;
    readonly TorchSharp.Modules.Parameter[] parameters;

    /// <summary>Bucket size (bytes) when none is given: 25 MB, as PyTorch's DistributedDataParallel.</summary>
    public const long DefaultBucketBytes = 25L * 1024 * 1024;

    public GradientReducer(
        ICommunicator communicator,
        IEnumerable<TorchSharp.Modules.Parameter> parameters,
        long bucketBytes = DefaultBucketBytes
    )
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 4L);
        this.communicator = communicator;
        this.parameters = parameters.Where(p => p.requires_grad).ToArray();
        BucketBytes = bucketBytes;
    }

    /// <summary>Upper bound of one bucket's bytes.</summary>
    public long BucketBytes { get; }

    /// <summary>Bytes all-reduced by the last <see cref="SumGradients"/> (gradients and flags).</summary>
    public long LastBytes { get; private set; }

    /// <summary>All-reduce calls made by the last <see cref="SumGradients"/> for the gradient buckets.</summary>
    public int LastBuckets { get; private set; }

    /// <summary>Wall time of the last <see cref="SumGradients"/>, milliseconds.</summary>
    public double LastMilliseconds { get; private set; }

    /// <summary>The parameters' indices cut into buckets of at most <see cref="BucketBytes"/> (in float32 elements).</summary>
    public static List<int[]> Buckets(IReadOnlyList<long> elements, long bucketBytes)
    {
        var buckets = new List<int[]>();
        var current = new List<int>();
        long bytes = 0;
        for (int i = 0; i < elements.Count; i++)
        {
            long b = elements[i] * sizeof(float);
            if (current.Count > 0 && bytes + b > bucketBytes)
            {
                buckets.Add([.. current]);
                current.Clear();
                bytes = 0;
            }
            current.Add(i);
            bytes += b;
        }
        if (current.Count > 0)
        {
            buckets.Add([.. current]);
        }
        return buckets;
    }

    /// <summary>
    /// Replaces every parameter's gradient by its sum over the ranks. A parameter without a gradient on a rank
    /// counts as zero there; one without a gradient on every rank keeps none (as in one process, where the optimiser
    /// then leaves it alone). <paramref name="extra"/> (float64, e.g. loss terms) is summed in the same exchange.
    /// </summary>
    public void SumGradients(Tensor? extra = null)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        int n = parameters.Length;
        int extraCount = extra is null ? 0 : (int)extra.NumberOfElements;
        // Which parameters have a gradient somewhere, plus the extra values: one small exchange.
        var small = zeros(n + extraCount, dtype: ScalarType.Float64);
        var flags = new double[n];
        for (int i = 0; i < n; i++)
        {
            flags[i] = parameters[i].grad is null ? 0.0 : 1.0;
        }
        small.narrow(0, 0, n).copy_(tensor(flags, dtype: ScalarType.Float64));
        if (extra is not null)
        {
            small.narrow(0, n, extraCount).copy_(extra.reshape(-1).to(ScalarType.Float64));
        }
        communicator.AllReduceSum(small);
        if (extra is not null)
        {
            extra.copy_(small.narrow(0, n, extraCount).reshape(extra.shape).to(extra.dtype));
        }
        var summedFlags = small.narrow(0, 0, n).data<double>().ToArray();
        var active = Enumerable.Range(0, n).Where(i => summedFlags[i] > 0).ToArray();
        long bytes = (n + extraCount) * sizeof(double);
        var buckets = Buckets([.. active.Select(i => parameters[i].NumberOfElements)], BucketBytes);
        using (no_grad())
        {
            foreach (var bucket in buckets)
            {
                var ps = bucket.Select(b => parameters[active[b]]).ToArray();
                var flat = cat(ps.Select(p => p.grad is null ? zeros(p.NumberOfElements, dtype: p.dtype) : p.grad.reshape(-1)).ToList(), 0);
                communicator.AllReduceSum(flat);
                bytes += flat.NumberOfElements * flat.ElementSize;
                long offset = 0;
                foreach (var p in ps)
                {
                    var part = flat.narrow(0, offset, p.NumberOfElements).view(p.shape);
                    if (p.grad is null)
                    {
                        p.grad = part.clone().DetachFromDisposeScope();
                    }
                    else
                    {
                        p.grad.copy_(part);
                    }
                    offset += p.NumberOfElements;
                }
            }
        }
        LastBytes = bytes;
        LastBuckets = buckets.Count;
        LastMilliseconds = clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>Sets every parameter (and the given buffers) to rank <paramref name="root"/>'s, bucket by bucket.</summary>
    public void BroadcastParameters(int root = 0)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var buckets = Buckets([.. parameters.Select(p => p.NumberOfElements)], BucketBytes);
        foreach (var bucket in buckets)
        {
            var ps = bucket.Select(b => parameters[b]).ToArray();
            var flat = cat(ps.Select(p => p.detach().reshape(-1)).ToList(), 0).contiguous();
            communicator.Broadcast(flat, root);
            long offset = 0;
            foreach (var p in ps)
            {
                p.copy_(flat.narrow(0, offset, p.NumberOfElements).view(p.shape));
                offset += p.NumberOfElements;
            }
        }
    }
}
