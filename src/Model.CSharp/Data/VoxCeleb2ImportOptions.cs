namespace Research.Model.Data;

/// <summary>What <see cref="VoxCeleb2Importer.Import"/> keeps.</summary>
public sealed class VoxCeleb2ImportOptions
{
    /// <summary>
    /// Keep utterances whose ASR score is at least this (higher = more confident, e.g. the average log-likelihood
    /// per frame of the Kaldi decoding): the paper's filter for English (§4.1). Choose it on held-out data, not by
    /// the count it leaves.
    /// </summary>
    public required double Threshold { get; init; }

    /// <summary>
    /// At most this many utterances per speaker (null: no cap). Which ones is decided by a hash of the seed and
    /// the utterance id, so it does not depend on the order of the files and a speaker's choice is stable when
    /// other speakers' files change.
    /// </summary>
    public int? MaxPerSpeaker { get; init; }

    /// <summary>Drop speakers left with fewer utterances than this (after the threshold and the cap).</summary>
    public int MinPerSpeaker { get; init; } = 1;

    /// <summary>Seed of the per-speaker cap.</summary>
    public int Seed { get; init; }

    /// <summary>How many example ids the report lists per category.</summary>
    public int Examples { get; init; } = 10;

    /// <summary>
    /// Drop (count, and list in <see cref="VoxCeleb2ImportReport.BadInputs"/>) audio clips with bad input: no
    /// <c>.mp4</c> beside the <c>.m4a</c>, no transcript line, an empty transcript, or no score line. Off by default:
    /// such clips are then an error naming the files and up to 10 utterances, with the count. The filters (score
    /// threshold, speaker cap and minimum) drop utterances by design and are counted either way.
    /// </summary>
    public bool SkipBadInputs { get; init; }

    /// <summary>The VoxCeleb2 partition folder under the root (the paper uses dev only).</summary>
    public string Split { get; init; } = "dev";
}
