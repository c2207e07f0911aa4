namespace Research.Model.Audio;

/// <summary>
/// Options of the log mel filter-bank energies, named and defaulted as Kaldi's compute-fbank-feats (and
/// torchaudio.compliance.kaldi.fbank) except <see cref="NumMelBins"/> = 40 (the paper's input; Kaldi: 23) and
/// <see cref="Dither"/> = 0 (deterministic features; Kaldi: 1). <see cref="Fbank"/> documents the computation.
/// </summary>
public sealed record FbankOptions
{
    /// <summary>Number of triangular mel bins: 40, the paper's audio input (§4.1).</summary>
    public int NumMelBins { get; init; } = 40;

    /// <summary>Frame length in milliseconds (Kaldi 25).</summary>
    public double FrameLengthMs { get; init; } = 25.0;

    /// <summary>Frame shift in milliseconds (Kaldi 10).</summary>
    public double FrameShiftMs { get; init; } = 10.0;

    /// <summary>Standard deviation of Gaussian noise added to each sample, in the int16 scale; 0 = none (Kaldi 1).</summary>
    public double Dither { get; init; } = 0.0;

    /// <summary>Seed of the dither noise, so dithered features are reproducible (not a Kaldi option).</summary>
    public int DitherSeed { get; init; } = 0;

    /// <summary>Pre-emphasis x[i] -= c · x[i-1] within each frame (x[-1] = x[0]); Kaldi 0.97.</summary>
    public double PreemphasisCoefficient { get; init; } = 0.97;

    /// <summary>Subtract each frame's mean before anything else (Kaldi true).</summary>
    public bool RemoveDcOffset { get; init; } = true;

    /// <summary>"povey" (Kaldi's default: Hann to the power 0.85), "hanning", "hamming", "rectangular" or "blackman".</summary>
    public string WindowType { get; init; } = "povey";

    /// <summary>Constant of the generalised Blackman window (Kaldi 0.42).</summary>
    public double BlackmanCoefficient { get; init; } = 0.42;

    /// <summary>Zero-pad each frame to the next power of two for the FFT (Kaldi true: 400 → 512 samples).</summary>
    public bool RoundToPowerOfTwo { get; init; } = true;

    /// <summary>Lowest frequency of the mel bins in Hz (Kaldi 20).</summary>
    public double LowFreq { get; init; } = 20.0;

    /// <summary>Highest frequency of the mel bins in Hz; 0 = Nyquist, negative = offset below Nyquist (Kaldi 0).</summary>
    public double HighFreq { get; init; } = 0.0;

    /// <summary>
    /// Only frames that fit in the audio: 1 + (n - length) / shift frames (Kaldi true). When false, n / shift
    /// frames (rounded to nearest) centred on multiples of the shift, the audio reflected at its ends.
    /// </summary>
    public bool SnipEdges { get; init; } = true;

    /// <summary>Floor on the energy column (absolute, not log); 0 = no floor. Matters only with <see cref="UseEnergy"/>.</summary>
    public double EnergyFloor { get; init; } = 0.0;

    /// <summary>Prepend the frame's log energy as column 0 (Kaldi false).</summary>
    public bool UseEnergy { get; init; } = false;

    /// <summary>Take the energy column before pre-emphasis and windowing (Kaldi true).</summary>
    public bool RawEnergy { get; init; } = true;

    /// <summary>Log of the mel energies (Kaldi true); false gives linear energies.</summary>
    public bool UseLogFbank { get; init; } = true;

    /// <summary>Power spectrum (Kaldi true); false uses the magnitude.</summary>
    public bool UsePower { get; init; } = true;

    /// <summary>Kaldi's defaults with 40 mel bins and no dither.</summary>
    public static FbankOptions Default { get; } = new();

    /// <summary>Samples per frame at <paramref name="sampleRate"/> (truncated, as Kaldi does).</summary>
    public int WindowSize(int sampleRate) => (int)(sampleRate * FrameLengthMs * 0.001);

    /// <summary>Samples between frame starts at <paramref name="sampleRate"/> (truncated, as Kaldi does).</summary>
    public int WindowShift(int sampleRate) => (int)(sampleRate * FrameShiftMs * 0.001);

    /// <summary>The FFT length: the window size, or the next power of two when <see cref="RoundToPowerOfTwo"/>.</summary>
    public int PaddedWindowSize(int sampleRate)
    {
        int size = WindowSize(sampleRate);
        return RoundToPowerOfTwo ? (int)Math.Max(1, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size)) : size;
    }

    /// <summary>Number of frames of <paramref name="samples"/> samples at <paramref name="sampleRate"/> (0 when too short).</summary>
    public int FrameCount(int samples, int sampleRate)
    {
        int size = WindowSize(sampleRate);
        int shift = WindowShift(sampleRate);
        if (samples < size)
        {
            return 0;
        }
        return SnipEdges ? 1 + (samples - size) / shift : (samples + shift / 2) / shift;
    }
}
