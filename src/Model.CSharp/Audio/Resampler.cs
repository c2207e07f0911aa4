namespace Research.Model.Audio;

/// <summary>
/// Band-limited resampling by a Kaiser-windowed sinc, evaluated at the exact output times (polyphase when the rate
/// ratio reduces to at most <see cref="MaxPhases"/> phases, which covers every common pair of rates).
/// <para>
/// The low-pass filter has its -6 dB point at <see cref="Rolloff"/> of the lower Nyquist frequency, spans
/// <see cref="ZeroCrossings"/> zero crossings on each side and uses a Kaiser window with β = <see cref="Beta"/>
/// (stopband ≈ -86 dB, transition ≈ ±8 % of the lower Nyquist): flat to ≈ 6.9 kHz when the lower rate is 16 kHz.
/// Each phase is normalised to unit DC gain. Samples outside the input count as zeros; the output has
/// ceil(n · to / from) samples, so sample i of the output sits at time i / to like sample i · from / to of the input.
/// </para>
/// </summary>
public static class Resampler
{
    /// <summary>Zero crossings of the sinc on each side of the centre.</summary>
    public const int ZeroCrossings = 32;

    /// <summary>Kaiser window shape parameter.</summary>
    public const double Beta = 8.6;

    /// <summary>The filter's -6 dB frequency as a fraction of the lower of the two Nyquist frequencies.</summary>
    public const double Rolloff = 0.94;

    /// <summary>Largest number of filter phases kept in a table; beyond it taps are computed per output sample.</summary>
    public const int MaxPhases = 4096;

    /// <summary>Resamples <paramref name="samples"/> from <paramref name="fromRate"/> to <paramref name="toRate"/> Hz.</summary>
    public static float[] Resample(float[] samples, int fromRate, int toRate)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (fromRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(fromRate), fromRate, "sample rates must be positive");
        }
        if (toRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(toRate), toRate, "sample rates must be positive");
        }
        if (fromRate == toRate)
        {
            return (float[])samples.Clone();
        }
        long g = Gcd(fromRate, toRate);
        long up = toRate / g; // L: phases
        long down = fromRate / g; // M: input step per output, in units of 1/L
        long outputs = (samples.LongLength * up + down - 1) / down;
        if (outputs > Array.MaxLength)
        {
            throw new ArgumentException(
                $"resampling {samples.Length} samples to {toRate} Hz gives {outputs} samples, too many for one array"
            );
        }

        // Filter in input-sample units: h(d) = gain · sinc(gain · d) · kaiser(d / half), |d| < half.
        double gain = Rolloff * Math.Min(1.0, (double)toRate / fromRate);
        double half = ZeroCrossings / gain;
        int k = (int)Math.Ceiling(half);
        int taps = 2 * k;
        double i0Beta = BesselI0(Beta);

        // Output i sits at input position u = i · M / L = q + r / L; tap j multiplies x[q - k + 1 + j],
        // at distance d = u - (q - k + 1 + j) = r / L + k - 1 - j.
        float[]? table = up <= MaxPhases ? new float[up * taps] : null;
        var scratch = new double[taps];
        if (table is not null)
        {
            for (int r = 0; r < up; r++)
            {
                Taps((double)r / up, k, gain, half, i0Beta, scratch);
                for (int j = 0; j < taps; j++)
                {
                    table[r * taps + j] = (float)scratch[j];
                }
            }
        }

        var output = new float[outputs];
        var computed = table is null ? new float[taps] : [];
        int n = samples.Length;
        for (long i = 0; i < outputs; i++)
        {
            long position = i * down;
            long q = position / up;
            int r = (int)(position % up);
            ReadOnlySpan<float> h;
            if (table is not null)
            {
                h = table.AsSpan(r * taps, taps);
            }
            else
            {
                Taps((double)r / up, k, gain, half, i0Beta, scratch);
                for (int j = 0; j < taps; j++)
                {
                    computed[j] = (float)scratch[j];
                }
                h = computed;
            }
            long first = q - k + 1;
            double sum = 0;
            if (first >= 0 && first + taps <= n)
            {
                ReadOnlySpan<float> x = samples.AsSpan((int)first, taps);
                for (int j = 0; j < taps; j++)
                {
                    sum += h[j] * x[j];
                }
            }
            else
            {
                for (int j = 0; j < taps; j++)
                {
                    long s = first + j;
                    if (s >= 0 && s < n)
                    {
                        sum += h[j] * samples[s];
                    }
                }
            }
            output[i] = (float)sum;
        }
        return output;
    }

    /// <summary>The taps for one fractional position, normalised to sum 1.</summary>
    static void Taps(double fraction, int k, double gain, double half, double i0Beta, double[] h)
    {
        double total = 0;
        for (int j = 0; j < h.Length; j++)
        {
            double d = fraction + k - 1 - j;
            double v = 0;
            if (Math.Abs(d) < half)
            {
                double x = d / half;
                double window = BesselI0(Beta * Math.Sqrt(1 - x * x)) / i0Beta;
                double arg = Math.PI * gain * d;
                v = gain * (d == 0 ? 1.0 : Math.Sin(arg) / arg) * window;
            }
            h[j] = v;
            total += v;
        }
        for (int j = 0; j < h.Length; j++)
        {
            h[j] /= total;
        }
    }

    /// <summary>The modified Bessel function of the first kind, order 0 (power series).</summary>
    static double BesselI0(double x)
    {
        double sum = 1,
            term = 1,
            y = x * x / 4;
        for (int m = 1; m < 100 && term > 1e-17 * sum; m++)
        {
            term *= y / ((double)m * m);
            sum += term;
        }
        return sum;
    }

    static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return a;
    }
}
