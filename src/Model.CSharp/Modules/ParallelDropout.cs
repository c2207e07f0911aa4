using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Dropout (train mode: each element zeroed independently with probability p, the rest scaled by 1/(1 − p); eval
/// mode: identity) whose keep-mask is drawn in parallel. libtorch's CPU dropout draws its mask with a serial
/// <c>bernoulli_</c> (~4–5 ns per element here), which the profile found to be about a sixth of the paper model's training
/// step on 2 threads (BENCHMARKS.md, profile). Here every element gets 24 bits of a counter-based generator
/// (SplitMix64 of a per-call seed and the element's index, two elements per 64-bit draw), computed on the torch
/// threads' count of .NET threads; the seed is drawn from torch's generator, so <c>manual_seed</c> and checkpointed
/// RNG state reproduce the masks, whatever the thread count. The keep probability is 1 − round(p·2²⁴)/2²⁴.
/// forward(x) → x ⊙ mask, same shape.
/// </summary>
public sealed class ParallelDropout : nn.Module<Tensor, Tensor>
{
    const int Bits = 24;
    const int Chunk = 1 << 16;
    readonly double p;

    public ParallelDropout(string name, double p)
        : base(name)
    {
        if (!(p >= 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, $"{name}: dropout probability must be in [0, 1)");
        }
        this.p = p;
        RegisterComponents();
    }

    /// <summary>The probability of zeroing an element in train mode.</summary>
    public double P => p;

    /// <summary>
    /// Use libtorch's own dropout instead (its serial bernoulli_ mask), the behaviour before this module existed; the
    /// benchmark measures both in one run.
    /// </summary>
    public bool UseTorchDropout { get; set; }

    public override Tensor forward(Tensor x)
    {
        if (!training || p == 0)
        {
            return x;
        }
        return UseTorchDropout ? nn.functional.dropout(x, p, true) : x * ScaledMask(x.shape, p, x.dtype, x.device);
    }

    /// <summary>
    /// A mask of the given shape: 1/(1 − p) where an element is kept, 0 where it is dropped, each element independently.
    /// </summary>
    public static Tensor ScaledMask(long[] shape, double p, ScalarType dtype, Device device)
    {
        ulong seed;
        using (var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64))
        {
            seed = (ulong)draw.item<long>();
        }
        var mask = empty(shape, dtype: ScalarType.Float32);
        long n = mask.numel();
        ulong threshold = (ulong)Math.Round(p * (1 << Bits));
        float keep = (float)(1.0 / (1.0 - p));
        IntPtr data = mask.storage<float>().data_ptr();
        long chunks = (n + Chunk - 1) / Chunk;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0, chunks, options, c => FillChunk(data, seed, c * Chunk, (int)Math.Min(Chunk, n - c * Chunk), threshold, keep));
        return dtype == ScalarType.Float32 && device.type == TorchSharp.DeviceType.CPU ? mask : mask.to(dtype, device);
    }

    /// <summary>Mask values of elements start … start + count − 1 (start even), written to data.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FillChunk(IntPtr data, ulong seed, long start, int count, ulong threshold, float keep)
    {
        var buffer = ArrayPool<float>.Shared.Rent(count);
        try
        {
            const ulong low = (1UL << Bits) - 1;
            int i = 0;
            for (; i + 1 < count; i += 2)
            {
                ulong z = Mix(seed, (ulong)(start + i) >> 1);
                buffer[i] = (z >> (64 - Bits)) >= threshold ? keep : 0f;
                buffer[i + 1] = ((z >> 16) & low) >= threshold ? keep : 0f;
            }
            if (i < count)
            {
                buffer[i] = (Mix(seed, (ulong)(start + i) >> 1) >> (64 - Bits)) >= threshold ? keep : 0f;
            }
            Marshal.Copy(buffer, 0, data + (nint)(start * sizeof(float)), count);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>SplitMix64 of the seed advanced <paramref name="counter"/> + 1 steps: a 64-bit draw per counter value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Mix(ulong seed, ulong counter)
    {
        ulong z = seed + (counter + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
