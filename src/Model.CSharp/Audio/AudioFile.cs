namespace Research.Model.Audio;

/// <summary>Loads audio files as mono <see cref="Waveform"/>s in the int16 scale at a requested sample rate.</summary>
public static class AudioFile
{
    /// <summary>
    /// Loads <paramref name="path"/> as mono samples in the int16 scale at <paramref name="sampleRate"/> Hz.
    /// A RIFF/WAVE file (recognised by its header, whatever its name) is parsed in C# by <see cref="WavReader"/>
    /// and, when its rate differs, resampled by <see cref="Resampler"/>; any other file (m4a, aac, mp4, flac,
    /// mp3, ogg, ...) is decoded, down-mixed and resampled by ffmpeg (<see cref="FfmpegDecoder"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file cannot be decoded; the message names it and says why.</exception>
    public static Waveform Load(string path, int sampleRate = 16000)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (sampleRate <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "the sample rate must be positive");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such audio file", path);
        }
        if (new FileInfo(path).Length == 0)
        {
            throw new InvalidDataException($"{path}: the file is empty (0 bytes)");
        }
        if (!WavReader.IsWave(path))
        {
            return FfmpegDecoder.Decode(path, sampleRate);
        }
        Waveform wave = WavReader.Read(path);
        return wave.SampleRate == sampleRate
            ? wave
            : new Waveform(Resampler.Resample(wave.Samples, wave.SampleRate, sampleRate), sampleRate);
    }
}
