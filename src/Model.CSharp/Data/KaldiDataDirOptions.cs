namespace Research.Model.Data;

/// <summary>How <see cref="KaldiDataDir.Load"/> treats what a strict reading would reject.</summary>
public sealed class KaldiDataDirOptions
{
    /// <summary>
    /// Accept piped <c>wav.scp</c> entries (<c>utt cmd args |</c>): the utterance then carries the command
    /// (<see cref="Utterance.WavIsCommand"/>) and <see cref="Utterance.ReadWavBytes"/> runs it with <c>bash -c</c>.
    /// Off by default: a command runs arbitrary code, and every downstream reader must then go through bash.
    /// </summary>
    public bool AllowPipes { get; init; }

    /// <summary>
    /// Drop utterances whose transcript is empty, listing them in <see cref="KaldiDataDir.SkippedEmptyTranscripts"/>,
    /// instead of failing. Off by default: an empty transcript is an empty ASR target.
    /// </summary>
    public bool SkipEmptyTranscripts { get; init; }
}
