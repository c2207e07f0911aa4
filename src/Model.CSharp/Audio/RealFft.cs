using System;
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

    // Power-of-two path: bit reversal of N/2, twiddles e^{-2πi k/(N/2)} for k < N/4, split twiddles e^{-2πi k/N}.
    readonly int[]? reversal;
    readonly double[]? cosHalf;
    readonly double[]? sinHalf;
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
            cosHalf = new double[Math.Max(1, half / 2)];
            sinHalf = new double[cosHalf.Length];
            for (int k = 0; k < cosHalf.Length; k++)
            {
                cosHalf[k] = Math.Cos(2 * Math.PI * k / half);
                sinHalf[k] = -Math.Sin(2 * Math.PI * k / half);
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
        // Pack z[j] = x[2j] + i x[2j+1] in bit-reversed order: re into im's partner buffer first.
        Span<double> re = power; // N/2 long, reused as the real part
        for (int j = 0; j < half; j++)
        {
            int r = reversal[j];
            re[r] = frame[2 * j];
            im[r] = frame[2 * j + 1];
        }
        Butterflies(re, im);

        // Split: X[k] = (Z[k] + conj Z[H-k]) / 2 - i e^{-2πik/N} (Z[k] - conj Z[H-k]) / 2.
        // Computed for k and H-k together, into frame (free now) to avoid overwriting inputs.
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

    void Butterflies(Span<double> re, Span<double> im)
    {
        var c = cosHalf!;
        var s = sinHalf!;
        for (int size = 2; size <= half; size <<= 1)
        {
            int halfSize = size >> 1;
            int step = half / size;
            for (int start = 0; start < half; start += size)
            {
                for (int j = 0, t = 0; j < halfSize; j++, t += step)
                {
                    int a = start + j;
                    int b = a + halfSize;
                    double wr = c[t],
                        wi = s[t];
                    double br = re[b] * wr - im[b] * wi;
                    double bi = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - br;
                    im[b] = im[a] - bi;
                    re[a] += br;
                    im[a] += bi;
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
