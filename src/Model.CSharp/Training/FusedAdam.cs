using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using Research.Model.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// Gradient clipping and TorchSharp's Adam update in one pass over each parameter's memory. TorchSharp's
/// <c>Adam.step()</c> runs nine libtorch ops per parameter tensor (each a pass over the tensor, four with a finalizable
/// <c>Scalar</c>), and <c>clip_grad_norm_</c> two more passes; on the demo transformer (149 tensors, 1.2 M values)
/// that was ~9 ms of a ~90-ms step on one thread, the profile's largest item after the matrix products (BENCHMARKS.md).
/// Here the global gradient norm is one read of the gradients, and the update one read of gradient, moments and
/// value with one write of moments and value, vectorised, over the torch threads' count of .NET threads.
/// </summary>
/// <remarks>
/// The optimiser stays TorchSharp's <see cref="Adam"/>: its parameter groups, learning rates and per-parameter state
/// (step count, exp_avg, exp_avg_sq) are read and written in place, so checkpoints keep its format (a checkpoint
/// written before this class existed resumes with it, and the other way round). The arithmetic is Adam's as
/// TorchSharp writes it, in float32: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − (lr / (1 − β₁ᵗ)) · m /
/// (√v / √(1 − β₂ᵗ) + ε), with g the gradient times the clipping coefficient min(1, max_norm / (‖g‖ + 10⁻⁶)) as
/// libtorch's <c>clip_grad_norm_</c> (which also leaves the gradients clipped); results agree with TorchSharp's to
/// float rounding (TrainingRules tests). Options this pass does not implement (amsgrad, maximize,
/// weight decay) and tensors it cannot address (not float32, not contiguous, not on the CPU) take TorchSharp's own
/// path (<see cref="Supports"/>).
/// </remarks>
public static class FusedAdam
{
    /// <summary>Elements per unit of parallel work.</summary>
    const int Chunk = 1 << 15;

    /// <summary>
    /// Whether <see cref="ClipAndStep"/> runs its own pass on this optimiser: plain Adam options (no amsgrad, maximize
    /// or weight decay) in every group.
    /// </summary>
    public static bool Supports(Adam optimizer) =>
        Groups(optimizer)
            .All(group => group.Options is Adam.Options o && o.amsgrad != true && o.maximize != true && (o.weight_decay ?? 0) == 0);

    static IEnumerable<ParamGroup> Groups(Adam optimizer) => optimizer.ParamGroups.Cast<ParamGroup>();

    static bool Addressable(Tensor t) => t.dtype == ScalarType.Float32 && t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous();

    /// <summary>
    /// Clips the gradients' global L2 norm to <paramref name="maxNorm"/> and takes one Adam step at each group's
    /// current learning rate, as <c>clip_grad_norm_(parameters, maxNorm)</c> then <c>optimizer.step()</c> would (the
    /// gradients are left clipped, as there). Runs exactly those two calls instead
    /// where <see cref="Supports"/> is false or a parameter or gradient is not a contiguous float32 CPU tensor.
    /// Returns the norm before clipping.
    /// </summary>
    public static double ClipAndStep(Adam optimizer, double maxNorm)
    {
        var found = Supports(optimizer) ? Gradients(optimizer) : null;
        if (found is null)
        {
            double torchNorm = nn.utils.clip_grad_norm_(optimizer.parameters().ToArray(), maxNorm);
            optimizer.step();
            return torchNorm;
        }
        try
        {
            var work = Plan(found);
            double norm = Math.Sqrt(SumOfSquares(work));
            double coefficient = Math.Min(1.0, maxNorm / (norm + 1e-6));
            Update(work, (float)coefficient);
            return norm;
        }
        finally
        {
            foreach (var (_, grad, _, _) in found)
            {
                grad.Dispose();
            }
        }
    }

    /// <summary>One parameter's update: its tensors, its state, and its group's settings at this step.</summary>
    sealed record Item(
        Tensor Value,
        Tensor Grad,
        Adam.State State,
        float Beta1,
        float Beta2,
        float StepSize,
        float BiasCorrection2Root,
        float Epsilon
    );

    /// <summary>
    /// The parameters that have a gradient, with it, their state and their group's options, in the optimiser's order;
    /// null (nothing held) when one of them or its gradient is not addressable here.
    /// </summary>
    static List<(Parameter Value, Tensor Grad, Adam.State State, Adam.Options Options)>? Gradients(Adam optimizer)
    {
        var states = optimizer.state_dict().State;
        var found = new List<(Parameter, Tensor, Adam.State, Adam.Options)>();
        int index = 0;
        foreach (var group in Groups(optimizer))
        {
            var options = (Adam.Options)group.Options;
            foreach (var p in group.Parameters)
            {
                var state = (Adam.State)states[index++];
                var g = p.grad;
                if (g is null)
                {
                    continue;
                }
                found.Add((p, g, state, options));
                if (!Addressable(p) || !Addressable(g) || !Addressable(state.exp_avg) || !Addressable(state.exp_avg_sq))
                {
                    foreach (var (_, grad, _, _) in found)
                    {
                        grad.Dispose();
                    }
                    return null;
                }
            }
        }
        return found;
    }

    /// <summary>
    /// Advances each state's step count (as Adam.step does for a parameter with a gradient) and fixes the settings of
    /// this step.
    /// </summary>
    static List<Item> Plan(List<(Parameter Value, Tensor Grad, Adam.State State, Adam.Options Options)> found)
    {
        var work = new List<Item>(found.Count);
        foreach (var (p, g, state, o) in found)
        {
            double beta1 = o.beta1!.Value,
                beta2 = o.beta2!.Value;
            state.step += 1;
            double correction1 = 1 - Math.Pow(beta1, state.step);
            double correction2 = 1 - Math.Pow(beta2, state.step);
            work.Add(
                new Item(
                    p,
                    g,
                    state,
                    (float)beta1,
                    (float)beta2,
                    (float)(o.LearningRate!.Value / correction1),
                    (float)Math.Sqrt(correction2),
                    (float)o.eps!.Value
                )
            );
        }
        return work;
    }

    /// <summary>Pieces of work (item, first element, count) of at most <see cref="Chunk"/> elements each.</summary>
    static List<(int Item, int Start, int Count)> Pieces(List<Item> work)
    {
        var pieces = new List<(int, int, int)>();
        for (int i = 0; i < work.Count; i++)
        {
            int n = checked((int)work[i].Value.numel());
            for (int start = 0; start < n; start += Chunk)
            {
                pieces.Add((i, start, Math.Min(Chunk, n - start)));
            }
        }
        return pieces;
    }

    static int Threads(long elements) => elements < 4 * Chunk ? 1 : Math.Max(1, get_num_threads());

    static double SumOfSquares(List<Item> work)
    {
        long elements = work.Sum(w => w.Grad.numel());
        int threads = Threads(elements);
        if (threads == 1)
        {
            double sum = 0;
            foreach (var w in work)
            {
                sum += SumOfSquares(TensorMemory.Span<float>(w.Grad));
            }
            return sum;
        }
        var pieces = Pieces(work);
        var partial = new double[pieces.Count];
        Parallel.For(
            0,
            pieces.Count,
            new ParallelOptions { MaxDegreeOfParallelism = threads },
            k =>
            {
                var (i, start, count) = pieces[k];
                partial[k] = SumOfSquares(TensorMemory.Span<float>(work[i].Grad).Slice(start, count));
            }
        );
        return partial.Sum();
    }

    /// <summary>Σ x² accumulated in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double SumOfSquares(ReadOnlySpan<float> x)
    {
        int i = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            var a = Vector256<double>.Zero;
            var b = Vector256<double>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.Create(x.Slice(i, 8));
                var (lo, hi) = Vector256.Widen(v);
                a = Vector256.FusedMultiplyAdd(lo, lo, a);
                b = Vector256.FusedMultiplyAdd(hi, hi, b);
            }
            sum = Vector256.Sum(a + b);
        }
        for (; i < x.Length; i++)
        {
            sum += (double)x[i] * x[i];
        }
        return sum;
    }

    static void Update(List<Item> work, float coefficient)
    {
        long elements = work.Sum(w => w.Grad.numel());
        int threads = Threads(elements);
        if (threads == 1)
        {
            foreach (var w in work)
            {
                Update(w, 0, checked((int)w.Value.numel()), coefficient);
            }
            return;
        }
        var pieces = Pieces(work);
        Parallel.For(
            0,
            pieces.Count,
            new ParallelOptions { MaxDegreeOfParallelism = threads },
            k =>
            {
                var (i, start, count) = pieces[k];
                Update(work[i], start, count, coefficient);
            }
        );
    }

    /// <summary>Adam's update of elements start … start + count − 1 of one parameter, on gradients times coefficient.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Update(Item w, int start, int count, float coefficient)
    {
        var p = TensorMemory.Span<float>(w.Value).Slice(start, count);
        var g = TensorMemory.Span<float>(w.Grad).Slice(start, count);
        var m = TensorMemory.Span<float>(w.State.exp_avg).Slice(start, count);
        var v = TensorMemory.Span<float>(w.State.exp_avg_sq).Slice(start, count);
        float b1 = w.Beta1,
            b2 = w.Beta2,
            a1 = 1 - w.Beta1,
            a2 = 1 - w.Beta2,
            root = w.BiasCorrection2Root,
            eps = w.Epsilon,
            step = -w.StepSize;
        bool clipped = coefficient != 1f;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb1 = Vector256.Create(b1);
            var vb2 = Vector256.Create(b2);
            var va1 = Vector256.Create(a1);
            var va2 = Vector256.Create(a2);
            var vroot = Vector256.Create(root);
            var veps = Vector256.Create(eps);
            var vstep = Vector256.Create(step);
            var vc = Vector256.Create(coefficient);
            for (; i + 8 <= count; i += 8)
            {
                var gi = Vector256.Create(g.Slice(i, 8)) * vc;
                if (clipped)
                {
                    gi.CopyTo(g.Slice(i, 8));
                }
                var mi = Vector256.FusedMultiplyAdd(gi, va1, Vector256.Create(m.Slice(i, 8)) * vb1);
                var vi = Vector256.Create(v.Slice(i, 8)) * vb2 + va2 * gi * gi;
                var denominator = Vector256.Sqrt(vi) / vroot + veps;
                var pi = Vector256.Create(p.Slice(i, 8)) + vstep * mi / denominator;
                mi.CopyTo(m.Slice(i, 8));
                vi.CopyTo(v.Slice(i, 8));
                pi.CopyTo(p.Slice(i, 8));
            }
        }
        for (; i < count; i++)
        {
            float gi = g[i] * coefficient;
            if (clipped)
            {
                g[i] = gi;
            }
            float mi = MathF.FusedMultiplyAdd(gi, a1, m[i] * b1);
            float vi = v[i] * b2 + a2 * gi * gi;
            float denominator = MathF.Sqrt(vi) / root + eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] + step * mi / denominator;
        }
    }
}
