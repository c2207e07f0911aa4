using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Research.Model.Audio;

/// <summary>
/// Log mel filter-bank energies as Kaldi's compute-fbank-feats computes them (and torchaudio.compliance.kaldi.fbank,
/// which the tests compare against). Per frame: dither, remove the DC offset, [raw log energy], pre-emphasis, window,
/// zero-pad to the FFT length, power (or magnitude) spectrum, sparse triangular mel filters, log(max(·, ε)) with
/// ε = 1.19e-7 (float32's epsilon). Samples are in the int16 scale (<see cref="Waveform"/>).
/// <para>
/// Plain single-threaded C# in double precision: window, FFT twiddles and mel filters are built once per
/// (options, sample rate) and cached; a call allocates its output and one set of frame buffers, nothing per frame.
/// An instance is immutable and may be shared between threads.
/// </para>
/// </summary>
public sealed class Fbank
{
    static readonly ConcurrentDictionary<(FbankOptions, int), Fbank> Plans = new();

    /// <summary>Floor of the spectrum and energies before the log: float32's machine epsilon, as Kaldi and torchaudio.</summary>
    public const double Epsilon = 1.1920928955078125e-07;

    readonly int windowSize;
    readonly int windowShift;
    readonly double[] window;
    readonly RealFft fft;
    readonly int[] melFirstBin; // FFT bin of each filter's first weight
    readonly int[] melStart; // filter b's weights are melWeights[melStart[b] .. melStart[b + 1])
    readonly double[] melWeights;
    readonly double logEnergyFloor;

    /// <summary>The options.</summary>
    public FbankOptions Options { get; }

    /// <summary>The sample rate the features are computed at.</summary>
    public int SampleRate { get; }

    /// <summary>Columns of the output: the mel bins, plus one for the energy when <see cref="FbankOptions.UseEnergy"/>.</summary>
    public int Dim => Options.NumMelBins + (Options.UseEnergy ? 1 : 0);

    /// <summary>Plans the computation for <paramref name="sampleRate"/> and <paramref name="options"/> (defaults: Kaldi, 40 bins).</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it and its value.</exception>
    public Fbank(int sampleRate, FbankOptions? options = null)
    {
        var o = options ?? FbankOptions.Default;
        if (sampleRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "the sample rate must be positive");
        }
        windowSize = o.WindowSize(sampleRate);
        windowShift = o.WindowShift(sampleRate);
        int padded = o.PaddedWindowSize(sampleRate);
        if (windowSize < 2)
        {
            throw new ArgumentException($"FrameLengthMs {o.FrameLengthMs} gives {windowSize} samples at {sampleRate} Hz; need at least 2");
        }
        if (windowShift < 1)
        {
            throw new ArgumentException($"FrameShiftMs {o.FrameShiftMs} gives {windowShift} samples at {sampleRate} Hz; need at least 1");
        }
        if (padded % 2 != 0)
        {
            throw new ArgumentException($"the FFT length {padded} is odd: set RoundToPowerOfTwo or an even frame length in samples");
        }
        if (!(o.PreemphasisCoefficient >= 0 && o.PreemphasisCoefficient <= 1))
        {
            throw new ArgumentException($"PreemphasisCoefficient {o.PreemphasisCoefficient} must be in [0, 1]");
        }
        if (!(o.Dither >= 0))
        {
            throw new ArgumentException($"Dither {o.Dither} must be >= 0");
        }
        if (!(o.EnergyFloor >= 0))
        {
            throw new ArgumentException($"EnergyFloor {o.EnergyFloor} must be >= 0");
        }
        Options = o;
        SampleRate = sampleRate;
        window = Window(o.WindowType, windowSize, o.BlackmanCoefficient);
        fft = new RealFft(padded);
        var mel = new MelBanks(o.NumMelBins, padded, sampleRate, o.LowFreq, o.HighFreq);
        melFirstBin = mel.First;
        melStart = new int[o.NumMelBins + 1];
        for (int b = 0; b < o.NumMelBins; b++)
        {
            melStart[b + 1] = melStart[b] + mel.Weights[b].Length;
        }
        melWeights = mel.Weights.SelectMany(w => w).ToArray();
        logEnergyFloor = o.EnergyFloor > 0 ? Math.Log(o.EnergyFloor) : double.NegativeInfinity;
    }

    /// <summary>
    /// Filter-bank features of <paramref name="samples"/> (int16 scale) at <paramref name="sampleRate"/> Hz:
    /// shape (frames, <see cref="Dim"/>), frames = 1 + (n - window) / shift with the default SnipEdges.
    /// The plan for (options, rate) is built on first use and cached.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer samples than one frame; the message names <paramref name="item"/>.</exception>
    public static float[,] Compute(float[] samples, int sampleRate, FbankOptions? options = null, string item = "audio") =>
        Plans.GetOrAdd((options ?? FbankOptions.Default, sampleRate), key => new Fbank(key.Item2, key.Item1)).Compute(samples, item);

    /// <summary>Filter-bank features of <paramref name="samples"/> (int16 scale) at this plan's sample rate.</summary>
    /// <exception cref="ArgumentException">Fewer samples than one frame; the message names <paramref name="item"/>.</exception>
    public float[,] Compute(ReadOnlySpan<float> samples, string item = "audio")
    {
        int n = samples.Length;
        int frames = Options.FrameCount(n, SampleRate);
        if (frames == 0)
        {
            throw new ArgumentException(
                $"{item}: {n} samples ({1000.0 * n / SampleRate:F1} ms at {SampleRate} Hz) is shorter than one frame "
                    + $"({windowSize} samples, {Options.FrameLengthMs} ms)"
            );
        }
        var output = new float[frames, Dim];
        var raw = new double[windowSize];
        var frame = new double[fft.Length];
        var im = new double[fft.Length / 2];
        var power = new double[fft.Length / 2];
        var random = Options.Dither > 0 ? new Random(Options.DitherSeed) : null;
        int offset = Options.UseEnergy ? 1 : 0;
        double c = Options.PreemphasisCoefficient;
        // Reflected edges: frame f starts at f · shift + shift/2 - window/2 (Kaldi's FirstSampleOfFrame).
        int start0 = Options.SnipEdges ? 0 : windowShift / 2 - windowSize / 2;

        for (int f = 0; f < frames; f++)
        {
            int start = start0 + f * windowShift;
            if (start >= 0 && start + windowSize <= n)
            {
                var source = samples.Slice(start, windowSize);
                for (int j = 0; j < raw.Length; j++)
                {
                    raw[j] = source[j];
                }
            }
            else
            {
                for (int j = 0; j < raw.Length; j++)
                {
                    raw[j] = samples[Reflect(start + j, n)];
                }
            }
            if (random is not null)
            {
                for (int j = 0; j < raw.Length; j++)
                {
                    raw[j] += Options.Dither * Gaussian(random);
                }
            }
            double mean = Options.RemoveDcOffset ? Sum(raw) / windowSize : 0.0;
            if (Options.UseEnergy && Options.RawEnergy)
            {
                output[f, 0] = (float)LogEnergy(raw, mean);
            }
            PreemphasizeAndWindow(raw, mean, c, frame);
            if (Options.UseEnergy && !Options.RawEnergy)
            {
                output[f, 0] = (float)LogEnergy(frame.AsSpan(0, windowSize), 0.0);
            }

            fft.PowerSpectrum(frame, im, power);
            if (!Options.UsePower)
            {
                for (int k = 0; k < power.Length; k++)
                {
                    power[k] = Math.Sqrt(power[k]);
                }
            }
            Span<float> row = MemoryMarshal.CreateSpan(ref output[f, 0], Dim)[offset..];
            for (int b = 0; b < row.Length; b++)
            {
                int first = melStart[b];
                int length = melStart[b + 1] - first;
                double e = Dot(melWeights.AsSpan(first, length), power.AsSpan(melFirstBin[b], length));
                row[b] = (float)(Options.UseLogFbank ? Math.Log(Math.Max(e, Epsilon)) : e);
            }
        }
        return output;
    }

    /// <summary>
    /// frame[j] = ((x[j] - m) - c · (x[j-1] - m)) · w[j] with x[-1] = x[0], then zeros up to the FFT length:
    /// DC removal, pre-emphasis and the window in one pass.
    /// </summary>
    void PreemphasizeAndWindow(ReadOnlySpan<double> x, double mean, double c, Span<double> frame)
    {
        double shift = mean * (1 - c);
        int size = x.Length;
        frame[0] = (x[0] - mean) * (1 - c) * window[0];
        int j = 1;
        if (Vector.IsHardwareAccelerated)
        {
            var vc = new Vector<double>(c);
            var vs = new Vector<double>(shift);
            for (; j <= size - Vector<double>.Count; j += Vector<double>.Count)
            {
                var v = (new Vector<double>(x[j..]) - vc * new Vector<double>(x[(j - 1)..]) - vs) * new Vector<double>(window.AsSpan(j));
                v.CopyTo(frame[j..]);
            }
        }
        for (; j < size; j++)
        {
            frame[j] = (x[j] - c * x[j - 1] - shift) * window[j];
        }
        frame[size..].Clear();
    }

    static double Sum(ReadOnlySpan<double> x)
    {
        double sum = 0;
        foreach (double v in x)
        {
            sum += v;
        }
        return sum;
    }

    static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int k = 0; k < a.Length; k++)
        {
            sum += a[k] * b[k];
        }
        return sum;
    }

    double LogEnergy(ReadOnlySpan<double> x, double mean)
    {
        double sum = 0;
        foreach (double v in x)
        {
            sum += (v - mean) * (v - mean);
        }
        return Math.Max(Math.Log(Math.Max(sum, Epsilon)), logEnergyFloor);
    }

    /// <summary>Index of sample <paramref name="i"/> reflected into [0, n), the edge sample repeated (Kaldi).</summary>
    static int Reflect(int i, int n)
    {
        while (i < 0 || i >= n)
        {
            i = i < 0 ? -i - 1 : 2 * n - 1 - i;
        }
        return i;
    }

    static double Gaussian(Random random)
    {
        // Box-Muller; 1 - U keeps the log's argument in (0, 1].
        double u = 1.0 - random.NextDouble();
        double v = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * v);
    }

    /// <summary>The analysis window of <paramref name="size"/> samples (Kaldi's definitions, symmetric).</summary>
    static double[] Window(string type, int size, double blackman)
    {
        var w = new double[size];
        double a = 2 * Math.PI / (size - 1);
        for (int i = 0; i < size; i++)
        {
            w[i] = type switch
            {
                "povey" => Math.Pow(0.5 - 0.5 * Math.Cos(a * i), 0.85),
                "hanning" => 0.5 - 0.5 * Math.Cos(a * i),
                "hamming" => 0.54 - 0.46 * Math.Cos(a * i),
                "rectangular" => 1.0,
                "blackman" => blackman - 0.5 * Math.Cos(a * i) + (0.5 - blackman) * Math.Cos(2 * a * i),
                _ => throw new ArgumentException(
                    $"WindowType '{type}' is not one of povey, hanning, hamming, rectangular, blackman",
                    nameof(type)
                ),
            };
        }
        return w;
    }
}
