using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// The row-wise passes of <see cref="FusedSublayers"/>: layer norm forward and backward, masked softmax with the
/// attention weights' dropout and its backward, ReLU with dropout, and residual sums with a dropped-out branch. Each
/// works on contiguous float32 rows in place or into a given buffer, vectorised (AVX2 width), over the torch threads'
/// count of .NET threads in chunks of rows. Dropout masks are <see cref="ParallelDropout"/>'s, by flat element index.
/// </summary>
internal static class FusedKernels
{
    /// <summary>Elements per unit of parallel work (rows are grouped up to about this many).</summary>
    const int ChunkElements = 1 << 14;

    /// <summary>A dropout mask: the seed of one draw, and <see cref="ParallelDropout"/>'s threshold and kept value.</summary>
    internal readonly record struct Mask(ulong Seed, uint Threshold, float Keep)
    {
        /// <summary>A fresh mask for probability p (draws the seed from torch's generator), or null when p is 0.</summary>
        public static Mask? Draw(double p) =>
            p > 0 ? new Mask(ParallelDropout.DrawSeed(), ParallelDropout.Threshold(p), ParallelDropout.Keep(p)) : null;
    }

    internal delegate void ChunkAction(int chunk, long first, long last);

    /// <summary>Rows per chunk for rows of the given width.</summary>
    static long RowsPerChunk(int width) => Math.Max(1, ChunkElements / Math.Max(1, width));

    /// <summary>How many chunks <see cref="ForEachChunk"/> splits the rows into (1 when it runs them serially).</summary>
    internal static int Chunks(long rows, int width) =>
        get_num_threads() <= 1 ? 1 : (int)Math.Max(1, (rows + RowsPerChunk(width) - 1) / RowsPerChunk(width));

    internal static void ForEachChunk(long rows, int width, ChunkAction action)
    {
        int chunks = Chunks(rows, width);
        if (chunks == 1)
        {
            action(0, 0, rows);
            return;
        }
        long per = RowsPerChunk(width);
        Parallel.For(
            0,
            chunks,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) },
            c => action(c, c * per, Math.Min(rows, (c + 1) * per))
        );
    }

    // ---- layer norm -------------------------------------------------------------------------------------------

    /// <summary>
    /// Rows first … last − 1 of x (n × d): xhat = (x − mean) / √(var + eps) (biased variance), y = xhat ⊙ w + b;
    /// rstd[r] = 1 / √(var + eps).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LayerNorm(
        IntPtr x,
        IntPtr xhat,
        IntPtr y,
        IntPtr rstd,
        IntPtr w,
        IntPtr b,
        int d,
        float eps,
        long first,
        long last
    )
    {
        float* weight = (float*)w,
            bias = (float*)b;
        for (long r = first; r < last; r++)
        {
            float* xr = (float*)x + r * d;
            float* hr = (float*)xhat + r * d;
            float* yr = (float*)y + r * d;
            float mean = Sum(xr, d) / d;
            float variance = 0;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var m = Vector256.Create(mean);
                var acc = Vector256<float>.Zero;
                for (; j + 8 <= d; j += 8)
                {
                    var c = Vector256.Load(xr + j) - m;
                    acc = Vector256.FusedMultiplyAdd(c, c, acc);
                }
                variance = Vector256.Sum(acc);
            }
            for (; j < d; j++)
            {
                float c = xr[j] - mean;
                variance += c * c;
            }
            float s = 1f / MathF.Sqrt(variance / d + eps);
            ((float*)rstd)[r] = s;
            j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var m = Vector256.Create(mean);
                var sv = Vector256.Create(s);
                for (; j + 8 <= d; j += 8)
                {
                    var h = (Vector256.Load(xr + j) - m) * sv;
                    h.Store(hr + j);
                    Vector256.FusedMultiplyAdd(h, Vector256.Load(weight + j), Vector256.Load(bias + j)).Store(yr + j);
                }
            }
            for (; j < d; j++)
            {
                float h = (xr[j] - mean) * s;
                hr[j] = h;
                yr[j] = MathF.FusedMultiplyAdd(h, weight[j], bias[j]);
            }
        }
    }

    /// <summary>
    /// Layer norm backward for rows first … last − 1: gx += rstd · (gy⊙w − mean(gy⊙w) − xhat · mean(gy⊙w⊙xhat));
    /// gw += Σ gy ⊙ xhat and gb += Σ gy over the rows (into this chunk's partial sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void LayerNormBackward(
        IntPtr gy,
        IntPtr xhat,
        IntPtr rstd,
        IntPtr w,
        IntPtr gx,
        float* gw,
        float* gb,
        int d,
        long first,
        long last
    )
    {
        float* weight = (float*)w;
        for (long r = first; r < last; r++)
        {
            float* g = (float*)gy + r * d;
            float* h = (float*)xhat + r * d;
            float* o = (float*)gx + r * d;
            float sumG = 0,
                sumGh = 0;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var a = Vector256<float>.Zero;
                var c = Vector256<float>.Zero;
                for (; j + 8 <= d; j += 8)
                {
                    var gv = Vector256.Load(g + j);
                    var hv = Vector256.Load(h + j);
                    var gw8 = gv * Vector256.Load(weight + j);
                    a += gw8;
                    c = Vector256.FusedMultiplyAdd(gw8, hv, c);
                    Vector256.FusedMultiplyAdd(gv, hv, Vector256.Load(gw + j)).Store(gw + j);
                    (Vector256.Load(gb + j) + gv).Store(gb + j);
                }
                sumG = Vector256.Sum(a);
                sumGh = Vector256.Sum(c);
            }
            for (; j < d; j++)
            {
                float gwj = g[j] * weight[j];
                sumG += gwj;
                sumGh += gwj * h[j];
                gw[j] += g[j] * h[j];
                gb[j] += g[j];
            }
            float s = ((float*)rstd)[r];
            float meanG = sumG / d,
                meanGh = sumGh / d;
            j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var sv = Vector256.Create(s);
                var mg = Vector256.Create(meanG);
                var mgh = Vector256.Create(meanGh);
                for (; j + 8 <= d; j += 8)
                {
                    var t = Vector256.Load(g + j) * Vector256.Load(weight + j) - mg - Vector256.Load(h + j) * mgh;
                    Vector256.FusedMultiplyAdd(t, sv, Vector256.Load(o + j)).Store(o + j);
                }
            }
            for (; j < d; j++)
            {
                o[j] += s * (g[j] * weight[j] - meanG - h[j] * meanGh);
            }
        }
    }

    // ---- attention ----------------------------------------------------------------------------------------------

    /// <summary>The score rows' geometry: row r is (batch item, head, query) in row-major order, Keys long.</summary>
    internal readonly record struct ScoreRows(long Count, long Heads, long Queries, int Keys)
    {
        /// <summary>Offset of row r's row in the (B, 1, Tq, Tk) additive mask.</summary>
        public long BiasOffset(long r) => (r / (Heads * Queries) * Queries + r % Queries) * Keys;
    }

    /// <summary>
    /// Rows first … last − 1: s ← softmax(s·scale + bias) in place (a row with no finite entry gives zeros);
    /// d ← s ⊙ mask where there is a mask (d may be s otherwise).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Softmax(
        IntPtr scores,
        IntPtr dropped,
        IntPtr biasRows,
        ScoreRows rows,
        float scale,
        Mask? mask,
        long first,
        long last
    )
    {
        float* s = (float*)scores,
            d = (float*)dropped,
            bias = (float*)biasRows;
        int n = rows.Keys;
        for (long r = first; r < last; r++)
        {
            float* x = s + r * n;
            float* m = bias + rows.BiasOffset(r);
            float max = float.NegativeInfinity;
            int j = 0;
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var scaleVector = Vector256.Create(scale);
                var maxVector = Vector256.Create(float.NegativeInfinity);
                for (; j + 8 <= n; j += 8)
                {
                    var y = Vector256.FusedMultiplyAdd(Vector256.Load(x + j), scaleVector, Vector256.Load(m + j));
                    y.Store(x + j);
                    maxVector = Vector256.Max(maxVector, y);
                }
                for (int lane = 0; lane < 8; lane++)
                {
                    max = Math.Max(max, maxVector.GetElement(lane));
                }
            }
            for (; j < n; j++)
            {
                x[j] = MathF.FusedMultiplyAdd(x[j], scale, m[j]);
                max = Math.Max(max, x[j]);
            }
            if (float.IsNegativeInfinity(max))
            {
                new Span<float>(x, n).Clear();
            }
            else
            {
                float sum = 0;
                j = 0;
                if (Vector256.IsHardwareAccelerated && n >= 8)
                {
                    var maxVector = Vector256.Create(max);
                    var sumVector = Vector256<float>.Zero;
                    for (; j + 8 <= n; j += 8)
                    {
                        var e = ExpNonPositive(Vector256.Load(x + j) - maxVector);
                        e.Store(x + j);
                        sumVector += e;
                    }
                    sum = Vector256.Sum(sumVector);
                }
                for (; j < n; j++)
                {
                    x[j] = MathF.Exp(x[j] - max);
                    sum += x[j];
                }
                Scale(x, n, 1f / sum);
            }
            if (mask is Mask drop)
            {
                ParallelDropout.Multiply(x, d + r * n, drop.Seed, r * n, n, drop.Threshold, drop.Keep);
            }
        }
    }

    /// <summary>
    /// Rows first … last − 1, with p the probabilities and d = p ⊙ mask (d = p without dropout), g the gradient of d:
    /// g ← (d ⊙ g − p · Σ d ⊙ g) · scale in place, the gradient of the unscaled scores (p ⊙ (mask ⊙ g) = d ⊙ g).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void SoftmaxBackward(IntPtr probs, IntPtr dropped, IntPtr grad, int n, float scale, long first, long last)
    {
        float* p = (float*)probs,
            d = (float*)dropped,
            g = (float*)grad;
        for (long r = first; r < last; r++)
        {
            float* pr = p + r * n;
            float* dr = d + r * n;
            float* gr = g + r * n;
            float dot = 0;
            int j = 0;
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var dotVector = Vector256<float>.Zero;
                for (; j + 8 <= n; j += 8)
                {
                    var y = Vector256.Load(dr + j) * Vector256.Load(gr + j);
                    y.Store(gr + j);
                    dotVector += y;
                }
                dot = Vector256.Sum(dotVector);
            }
            for (; j < n; j++)
            {
                gr[j] = dr[j] * gr[j];
                dot += gr[j];
            }
            j = 0;
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var dotVector = Vector256.Create(dot);
                var scaleVector = Vector256.Create(scale);
                for (; j + 8 <= n; j += 8)
                {
                    ((Vector256.Load(gr + j) - Vector256.Load(pr + j) * dotVector) * scaleVector).Store(gr + j);
                }
            }
            for (; j < n; j++)
            {
                gr[j] = (gr[j] - pr[j] * dot) * scale;
            }
        }
    }

    /// <summary>
    /// eˣ for x ≤ 0 (softmax's shifted scores), 8 lanes: x = n·ln 2 + r, |r| ≤ ln 2 / 2, eʳ by Cephes' degree-6 polynomial
    /// (relative error ~2·10⁻⁷), 2ⁿ through the exponent bits; 0 below −87.3 (where eˣ is subnormal) and for −∞.
    /// The runtime's <c>Vector256.Exp</c> measured slower here than scalar <c>MathF.Exp</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        var lowest = Vector256.Create(-87.33654f);
        var underflow = Vector256.LessThan(x, lowest);
        x = Vector256.Max(x, lowest);
        var n = Vector256.Round(x * Vector256.Create(1.44269504f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var poly = Vector256.Create(1.9875691500e-4f);
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1.3981999507e-3f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(8.3334519073e-3f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(4.1665795894e-2f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1.6666665459e-1f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(5.0000001201e-1f));
        var y = Vector256.FusedMultiplyAdd(poly, r * r, r) + Vector256.Create(1f);
        var twoToN = ((Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23).AsSingle();
        return Vector256.ConditionalSelect(underflow, Vector256<float>.Zero, y * twoToN);
    }

    // ---- element-wise -----------------------------------------------------------------------------------------

    /// <summary>a ← relu(a) ⊙ mask over elements first … last − 1 (flat), in place; relu alone without a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ReluDropout(IntPtr values, Mask? mask, long first, long last)
    {
        float* a = (float*)values + first;
        int n = checked((int)(last - first));
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= n; j += 8)
            {
                Vector256.Max(Vector256.Load(a + j), Vector256<float>.Zero).Store(a + j);
            }
        }
        for (; j < n; j++)
        {
            a[j] = Math.Max(a[j], 0f);
        }
        if (mask is Mask drop)
        {
            ParallelDropout.Multiply(a, a, drop.Seed, first, n, drop.Threshold, drop.Keep);
        }
    }

    /// <summary>
    /// g ← g · keep where r ≠ 0, else 0, over elements first … last − 1: the gradient of a for r = relu(a) ⊙ mask (r ≠ 0
    /// exactly where a &gt; 0 and the element is kept; keep = 1 without dropout).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ReluDropoutBackward(IntPtr output, IntPtr grad, float keep, long first, long last)
    {
        float* r = (float*)output + first;
        float* g = (float*)grad + first;
        int n = checked((int)(last - first));
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var k = Vector256.Create(keep);
            for (; j + 8 <= n; j += 8)
            {
                var live = ~Vector256.Equals(Vector256.Load(r + j), Vector256<float>.Zero);
                (Vector256.Load(g + j) * k & live).Store(g + j);
            }
        }
        for (; j < n; j++)
        {
            g[j] = r[j] != 0 ? g[j] * keep : 0f;
        }
    }

    /// <summary>dst ← add + src ⊙ mask (src without a mask) over elements first … last − 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void AddDropped(IntPtr src, IntPtr add, IntPtr dst, Mask? mask, long first, long last)
    {
        float* s = (float*)src + first,
            a = (float*)add + first,
            o = (float*)dst + first;
        int n = checked((int)(last - first));
        if (mask is Mask drop)
        {
            ParallelDropout.MultiplyAdd(s, a, o, drop.Seed, first, n, drop.Threshold, drop.Keep);
            return;
        }
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= n; j += 8)
            {
                (Vector256.Load(s + j) + Vector256.Load(a + j)).Store(o + j);
            }
        }
        for (; j < n; j++)
        {
            o[j] = s[j] + a[j];
        }
    }

    /// <summary>dst ← src ⊙ mask over elements first … last − 1 (a copy without a mask).</summary>
    internal static unsafe void Dropped(IntPtr src, IntPtr dst, Mask? mask, long first, long last)
    {
        float* s = (float*)src + first,
            o = (float*)dst + first;
        int n = checked((int)(last - first));
        if (mask is Mask drop)
        {
            ParallelDropout.Multiply(s, o, drop.Seed, first, n, drop.Threshold, drop.Keep);
        }
        else
        {
            new Span<float>(s, n).CopyTo(new Span<float>(o, n));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe float Sum(float* x, int n)
    {
        float sum = 0;
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; j + 8 <= n; j += 8)
            {
                acc += Vector256.Load(x + j);
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++)
        {
            sum += x[j];
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Scale(float* x, int n, float factor)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var f = Vector256.Create(factor);
            for (; j + 8 <= n; j += 8)
            {
                (Vector256.Load(x + j) * f).Store(x + j);
            }
        }
        for (; j < n; j++)
        {
            x[j] *= factor;
        }
    }
}
