using System.Numerics;

namespace Research.Model.Audio;

/// <summary>
/// Power spectrum of a real frame of even length N: |X[k]|² for k = 0 .. N/2 - 1 (the Nyquist bin is not needed
/// by the mel banks). A power of two uses a complex radix-2 FFT of length N/2 on the even/odd samples packed as
/// re/im, then the usual split; any other even N uses a precomputed DFT matrix. All tables are built once; the
/// transform allocates nothing.
/// </summary>
internal sealed class RealFft
{
    readonly int n;
    readonly int half;

    // Power-of-two path: bit reversal of N/2; per stage of half-size h (4, 8, ..., N/4) the twiddles
    // e^{-2πi j/(2h)}, j < h, stored contiguously at [h, 2h); split twiddles e^{-2πi k/N}.
    readonly int[]? reversal;
    readonly double[]? stageCos;
    readonly double[]? stageSin;
    readonly double[]? cosFull;
    readonly double[]? sinFull;

    // Other even N: cos/sin(2π k j / N), row k, column j.
    readonly double[]? dftCos;
    readonly double[]? dftSin;

    /// <summary>Plans a transform of even length <paramref name="length"/>.</summary>
    public RealFft(int length)
    {
        if (length < 2 || length % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "the FFT length must be even and at least 2");
        }
        n = length;
        half = length / 2;
        if (BitOperations.IsPow2(length))
        {
            int bits = BitOperations.Log2((uint)half);
            reversal = new int[half];
            for (int i = 0; i < half; i++)
            {
                int r = 0;
                for (int b = 0; b < bits; b++)
                {
                    r |= ((i >> b) & 1) << (bits - 1 - b);
                }
                reversal[i] = r;
            }
            stageCos = new double[Math.Max(2, half)];
            stageSin = new double[stageCos.Length];
            for (int h = 1; h < half; h <<= 1)
            {
                for (int j = 0; j < h; j++)
                {
                    stageCos[h + j] = Math.Cos(Math.PI * j / h);
                    stageSin[h + j] = -Math.Sin(Math.PI * j / h);
                }
            }
            cosFull = new double[half];
            sinFull = new double[half];
            for (int k = 0; k < half; k++)
            {
                cosFull[k] = Math.Cos(2 * Math.PI * k / n);
                sinFull[k] = -Math.Sin(2 * Math.PI * k / n);
            }
        }
        else
        {
            dftCos = new double[half * n];
            dftSin = new double[half * n];
            for (int k = 0; k < half; k++)
            {
                for (int j = 0; j < n; j++)
                {
                    // (k · j) mod N keeps the angle small and exact.
                    double angle = 2 * Math.PI * ((long)k * j % n) / n;
                    dftCos[k * n + j] = Math.Cos(angle);
                    dftSin[k * n + j] = Math.Sin(angle);
                }
            }
        }
    }

    /// <summary>The transform length N.</summary>
    public int Length => n;

    /// <summary>
    /// Writes |X[k]|² for k &lt; N/2 into <paramref name="power"/>. <paramref name="frame"/> (length N) is
    /// used as scratch and overwritten; <paramref name="im"/> is scratch of length N/2.
    /// </summary>
    public void PowerSpectrum(Span<double> frame, Span<double> im, Span<double> power)
    {
        if (reversal is null)
        {
            Dft(frame, power);
            return;
        }
        // Pack z[j] = x[2j] + i x[2j+1] in bit-reversed order; power (N/2 long) holds the real parts meanwhile.
        Span<double> re = power;
        for (int j = 0; j < half; j++)
        {
            int r = reversal[j];
            re[r] = frame[2 * j];
            im[r] = frame[2 * j + 1];
        }
        Butterflies(re, im);

        // Split: X[k] = (Z[k] + conj Z[H-k]) / 2 - i e^{-2πik/N} (Z[k] - conj Z[H-k]) / 2.
        // |X[k]|² goes into frame (no longer needed), since re is read at both k and H-k.
        var cf = cosFull!;
        var sf = sinFull!;
        frame[0] = (re[0] + im[0]) * (re[0] + im[0]);
        for (int k = 1; k < half; k++)
        {
            int m = half - k;
            double ar = re[k],
                ai = im[k],
                br = re[m],
                bi = -im[m]; // conj Z[H-k]
            double er = 0.5 * (ar + br),
                ei = 0.5 * (ai + bi);
            double dr = 0.5 * (ar - br),
                di = 0.5 * (ai - bi);
            // -i · w · d with w = cf + i sf
            double wr = cf[k],
                wi = sf[k];
            double tr = wr * dr - wi * di,
                ti = wr * di + wi * dr;
            double xr = er + ti,
                xi = ei - tr;
            frame[k] = xr * xr + xi * xi;
        }
        frame[..half].CopyTo(power);
    }

    /// <summary>In-place radix-2 decimation-in-time FFT of length N/2 on bit-reversed input.</summary>
    void Butterflies(Span<double> re, Span<double> im)
    {
        int h0 = 1;
        if (half >= 4)
        {
            // The first two stages fused: 4-point transforms whose twiddles are 1 and -i.
            for (int a = 0; a < half; a += 4)
            {
                double s0r = re[a] + re[a + 1],
                    s0i = im[a] + im[a + 1];
                double d0r = re[a] - re[a + 1],
                    d0i = im[a] - im[a + 1];
                double s1r = re[a + 2] + re[a + 3],
                    s1i = im[a + 2] + im[a + 3];
                double d1r = re[a + 2] - re[a + 3],
                    d1i = im[a + 2] - im[a + 3];
                re[a] = s0r + s1r;
                im[a] = s0i + s1i;
                re[a + 2] = s0r - s1r;
                im[a + 2] = s0i - s1i;
                // -i · (d1r + i d1i) = d1i - i d1r
                re[a + 1] = d0r + d1i;
                im[a + 1] = d0i - d1r;
                re[a + 3] = d0r - d1i;
                im[a + 3] = d0i + d1r;
            }
            h0 = 4;
        }
        for (int h = h0; h < half; h <<= 1)
        {
            ReadOnlySpan<double> wc = stageCos.AsSpan(h, h);
            ReadOnlySpan<double> ws = stageSin.AsSpan(h, h);
            for (int start = 0; start < half; start += 2 * h)
            {
                Span<double> ar = re.Slice(start, h),
                    ai = im.Slice(start, h),
                    br = re.Slice(start + h, h),
                    bi = im.Slice(start + h, h);
                int j = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    for (; j <= h - Vector<double>.Count; j += Vector<double>.Count)
                    {
                        var c = new Vector<double>(wc[j..]);
                        var s = new Vector<double>(ws[j..]);
                        var xr = new Vector<double>(br[j..]);
                        var xi = new Vector<double>(bi[j..]);
                        var yr = new Vector<double>(ar[j..]);
                        var yi = new Vector<double>(ai[j..]);
                        var tr = xr * c - xi * s;
                        var ti = xr * s + xi * c;
                        (yr - tr).CopyTo(br[j..]);
                        (yi - ti).CopyTo(bi[j..]);
                        (yr + tr).CopyTo(ar[j..]);
                        (yi + ti).CopyTo(ai[j..]);
                    }
                }
                for (; j < h; j++)
                {
                    double tr = br[j] * wc[j] - bi[j] * ws[j];
                    double ti = br[j] * ws[j] + bi[j] * wc[j];
                    br[j] = ar[j] - tr;
                    bi[j] = ai[j] - ti;
                    ar[j] += tr;
                    ai[j] += ti;
                }
            }
        }
    }

    void Dft(Span<double> frame, Span<double> power)
    {
        var c = dftCos!;
        var s = dftSin!;
        for (int k = 0; k < half; k++)
        {
            double xr = 0,
                xi = 0;
            var rowC = c.AsSpan(k * n, n);
            var rowS = s.AsSpan(k * n, n);
            for (int j = 0; j < n; j++)
            {
                xr += frame[j] * rowC[j];
                xi += frame[j] * rowS[j];
            }
            power[k] = xr * xr + xi * xi;
        }
    }
}
