using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Dropout (train mode: each element zeroed independently with probability p, the rest scaled by 1/(1 − p); eval
/// mode: identity) whose keep-mask is drawn in parallel. libtorch's CPU dropout draws its mask with a serial
/// <c>bernoulli_</c> (~4–5 ns per element here), which the profile found to be about a sixth of the paper model's training
/// step on 2 threads (BENCHMARKS.md, profile). Here every element gets 24 bits of a counter-based generator (a 32-bit
/// hash of the element's index and a per-call 64-bit seed, 8 elements at a time with AVX2), computed on the torch
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
        ulong seed = DrawSeed();
        var mask = empty(shape, dtype: ScalarType.Float32);
        long n = mask.numel();
        uint threshold = Threshold(p);
        float keep = Keep(p);
        IntPtr data = TensorMemory.Address(mask);
        long chunks = (n + Chunk - 1) / Chunk;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0, chunks, options, c => FillChunk(data, seed, c * Chunk, (int)Math.Min(Chunk, n - c * Chunk), threshold, keep));
        return dtype == ScalarType.Float32 && device.type == TorchSharp.DeviceType.CPU ? mask : mask.to(dtype, device);
    }

    /// <summary>The per-call seed, drawn from torch's generator (so <c>manual_seed</c> reproduces the masks).</summary>
    internal static ulong DrawSeed()
    {
        using var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64);
        return (ulong)draw.item<long>();
    }

    /// <summary>An element is kept where the top 24 bits of its hash are at least this.</summary>
    internal static uint Threshold(double p) => (uint)Math.Round(p * (1 << Bits));

    /// <summary>The value of a kept element's mask, 1/(1 − p).</summary>
    internal static float Keep(double p) => (float)(1.0 / (1.0 - p));

    /// <summary>
    /// dst[i] = src[i] × mask(start + i) for i &lt; count: the values <see cref="ScaledMask"/> would hold at those flat
    /// indices for this seed, applied without a mask tensor (fused kernels use it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Multiply(float* src, float* dst, ulong seed, long start, int count, uint threshold, float keep)
    {
        uint low = (uint)seed;
        uint high = (uint)(seed >> 32);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var lanes = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
            var keepVector = Vector256.Create(keep);
            var thresholdVector = Vector256.Create(threshold);
            for (; i + 8 <= count; i += 8)
            {
                var x = Hash(Vector256.Create((uint)(start + i)) + lanes, low, high);
                var kept = Vector256.GreaterThanOrEqual(x >> (32 - Bits), thresholdVector).AsSingle();
                (Vector256.Load(src + i) * (kept & keepVector)).Store(dst + i);
            }
        }
        for (; i < count; i++)
        {
            dst[i] = (Hash((uint)(start + i), low, high) >> (32 - Bits)) >= threshold ? src[i] * keep : 0f;
        }
    }

    /// <summary>dst[i] = add[i] + src[i] × mask(start + i) for i &lt; count (a residual sum with the branch dropped out).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void MultiplyAdd(
        float* src,
        float* add,
        float* dst,
        ulong seed,
        long start,
        int count,
        uint threshold,
        float keep
    )
    {
        uint low = (uint)seed;
        uint high = (uint)(seed >> 32);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var lanes = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
            var keepVector = Vector256.Create(keep);
            var thresholdVector = Vector256.Create(threshold);
            for (; i + 8 <= count; i += 8)
            {
                var x = Hash(Vector256.Create((uint)(start + i)) + lanes, low, high);
                var kept = Vector256.GreaterThanOrEqual(x >> (32 - Bits), thresholdVector).AsSingle();
                Vector256.FusedMultiplyAdd(Vector256.Load(src + i), kept & keepVector, Vector256.Load(add + i)).Store(dst + i);
            }
        }
        for (; i < count; i++)
        {
            dst[i] =
                (Hash((uint)(start + i), low, high) >> (32 - Bits)) >= threshold ? MathF.FusedMultiplyAdd(src[i], keep, add[i]) : add[i];
        }
    }

    /// <summary>Mask values of elements start … start + count − 1, written to data (the tensor's own memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void FillChunk(IntPtr data, ulong seed, long start, int count, uint threshold, float keep)
    {
        var bits = new Span<uint>((uint*)data + start, count);
        uint low = (uint)seed;
        uint high = (uint)(seed >> 32);
        uint keepBits = BitConverter.SingleToUInt32Bits(keep);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var lanes = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
            var keepVector = Vector256.Create(keepBits);
            var thresholdVector = Vector256.Create(threshold);
            for (; i + 8 <= count; i += 8)
            {
                var x = Hash(Vector256.Create((uint)(start + i)) + lanes, low, high);
                var kept = Vector256.GreaterThanOrEqual(x >> (32 - Bits), thresholdVector);
                (kept & keepVector).StoreUnsafe(ref bits[i]);
            }
        }
        for (; i < count; i++)
        {
            bits[i] = (Hash((uint)(start + i), low, high) >> (32 - Bits)) >= threshold ? keepBits : 0u;
        }
    }

    /// <summary>
    /// 32 bits per element index (counted modulo 2³²): the index mixed with the seed's two halves by two rounds of
    /// the "lowbias32" integer hash (multiply–xorshift; C. Wellons). 32-bit arithmetic only, so that 8 lanes of AVX2
    /// compute it at once; <see cref="Hash(Vector256{uint}, uint, uint)"/> is the same function lane by lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Hash(uint index, uint low, uint high)
    {
        uint x = (index ^ low) * 0x9E3779B1u;
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        x ^= high;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        return x ^ (x >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> Hash(Vector256<uint> index, uint low, uint high)
    {
        var x = (index ^ Vector256.Create(low)) * Vector256.Create(0x9E3779B1u);
        x ^= x >> 16;
        x *= Vector256.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector256.Create(0x846CA68Bu);
        x ^= x >> 16;
        x ^= Vector256.Create(high);
        x *= Vector256.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector256.Create(0x846CA68Bu);
        return x ^ (x >> 16);
    }
}
