namespace Research.Model.Audio;

/// <summary>
/// Kaldi's triangular mel filters over FFT bins 0 .. N/2 - 1, stored sparsely (each filter's first bin and its
/// non-zero weights). Mel(f) = 1127 ln(1 + f / 700); the bins' edges are equally spaced in mel between the low and
/// high frequency, num_bins + 2 points; a weight is max(0, min(rising, falling)) evaluated at the bin's mel value.
/// </summary>
internal sealed class MelBanks
{
    /// <summary>Index of each filter's first non-zero FFT bin.</summary>
    public int[] First { get; }

    /// <summary>Each filter's weights from <see cref="First"/> on.</summary>
    public double[][] Weights { get; }

    /// <summary>Builds <paramref name="bins"/> filters for an FFT of length <paramref name="fftLength"/>.</summary>
    public MelBanks(int bins, int fftLength, double sampleRate, double lowFreq, double highFreq)
    {
        double nyquist = 0.5 * sampleRate;
        if (highFreq <= 0)
        {
            highFreq += nyquist;
        }
        if (bins <= 3)
        {
            throw new ArgumentOutOfRangeException(nameof(bins), bins, "there must be at least 4 mel bins (Kaldi's limit)");
        }
        if (!(lowFreq >= 0 && lowFreq < nyquist && highFreq > 0 && highFreq <= nyquist && lowFreq < highFreq))
        {
            throw new ArgumentException(
                $"mel band: low frequency {lowFreq} Hz and high frequency {highFreq} Hz must satisfy 0 <= low < high <= Nyquist ({nyquist} Hz)"
            );
        }
        int fftBins = fftLength / 2;
        double binWidth = sampleRate / fftLength;
        double melLow = Mel(lowFreq);
        double melHigh = Mel(highFreq);
        double delta = (melHigh - melLow) / (bins + 1);
        First = new int[bins];
        Weights = new double[bins][];
        var row = new double[fftBins];
        for (int b = 0; b < bins; b++)
        {
            double left = melLow + b * delta;
            double centre = melLow + (b + 1) * delta;
            double right = melLow + (b + 2) * delta;
            int first = -1,
                last = -1;
            for (int i = 0; i < fftBins; i++)
            {
                double mel = Mel(binWidth * i);
                double up = (mel - left) / (centre - left);
                double down = (right - mel) / (right - centre);
                row[i] = Math.Max(0.0, Math.Min(up, down));
                if (row[i] > 0)
                {
                    first = first < 0 ? i : first;
                    last = i;
                }
            }
            if (first < 0)
            {
                throw new ArgumentException(
                    $"mel bin {b} ({InverseMel(left):F1}-{InverseMel(right):F1} Hz) covers no FFT bin of width {binWidth:F1} Hz: "
                        + "use fewer mel bins or a longer frame"
                );
            }
            First[b] = first;
            Weights[b] = row[first..(last + 1)];
        }
    }

    /// <summary>Mel value of a frequency in Hz (Kaldi's scale).</summary>
    public static double Mel(double hz) => 1127.0 * Math.Log(1.0 + hz / 700.0);

    /// <summary>Frequency in Hz of a mel value.</summary>
    public static double InverseMel(double mel) => 700.0 * (Math.Exp(mel / 1127.0) - 1.0);
}
