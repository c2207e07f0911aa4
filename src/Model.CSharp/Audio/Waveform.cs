namespace Research.Model.Audio;

/// <summary>
/// Mono audio in Kaldi's convention: samples are 16-bit integer values held as floats, so full scale is ±32768
/// and a full-scale sine has amplitude ~32767 (float audio in [-1, 1] is multiplied by 32768).
/// </summary>
/// <param name="Samples">The samples, one per 1/<paramref name="SampleRate"/> s.</param>
/// <param name="SampleRate">Samples per second (Hz).</param>
public sealed record Waveform(float[] Samples, int SampleRate)
{
    /// <summary>Length in seconds.</summary>
    public double Seconds => (double)Samples.Length / SampleRate;

    /// <summary>The factor from float audio (full scale ±1) to the int16 scale used here.</summary>
    public const float Int16Scale = 32768f;
}
