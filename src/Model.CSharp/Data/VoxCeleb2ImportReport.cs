using System.Text.Json;
using System.Text.Json.Serialization;

namespace Research.Model.Data;

/// <summary>
/// What a VoxCeleb2 import found, kept and dropped (written as <c>import_report.json</c> into the data directory).
/// Each dropped utterance is counted once, under the first check it fails, in this order: missing mp4, missing
/// transcript, empty transcript, missing score, below threshold, over the speaker cap, speaker below minimum.
/// </summary>
public sealed class VoxCeleb2ImportReport
{
    /// <summary>The VoxCeleb2 root.</summary>
    public required string Root { get; init; }

    /// <summary>The transcripts file (Kaldi <c>text</c>).</summary>
    public required string Text { get; init; }

    /// <summary>The ASR scores file (<c>utt score</c>).</summary>
    public required string Scores { get; init; }

    /// <summary>The score threshold.</summary>
    public required double Threshold { get; init; }

    /// <summary>The per-speaker cap (null: none).</summary>
    public int? MaxPerSpeaker { get; init; }

    /// <summary>The per-speaker minimum.</summary>
    public int MinPerSpeaker { get; init; }

    /// <summary>Audio clips (<c>.m4a</c>) found.</summary>
    public int Found { get; init; }

    /// <summary>Video clips (<c>.mp4</c>) found.</summary>
    public int VideoFound { get; init; }

    /// <summary>Audio clips with a line in the transcripts file (empty or not).</summary>
    public int WithTranscript { get; init; }

    /// <summary>Audio clips with a line in the scores file.</summary>
    public int WithScore { get; init; }

    /// <summary>Dropped: no <c>.mp4</c> beside the <c>.m4a</c>.</summary>
    public int MissingMp4 { get; init; }

    /// <summary>Dropped: no transcript line.</summary>
    public int MissingTranscript { get; init; }

    /// <summary>Dropped: an empty transcript.</summary>
    public int EmptyTranscript { get; init; }

    /// <summary>Dropped: no score line.</summary>
    public int MissingScore { get; init; }

    /// <summary>Dropped: score below the threshold (the English filter).</summary>
    public int BelowThreshold { get; init; }

    /// <summary>Dropped: over the per-speaker cap.</summary>
    public int OverSpeakerCap { get; init; }

    /// <summary>Dropped: the speaker kept fewer utterances than the minimum.</summary>
    public int SpeakerBelowMinimum { get; init; }

    /// <summary>Speakers dropped for having fewer utterances than the minimum.</summary>
    public int SpeakersBelowMinimum { get; init; }

    /// <summary>Video clips without an audio clip (not imported).</summary>
    public int VideoWithoutAudio { get; init; }

    /// <summary>Transcript lines whose id names no audio clip found (e.g. transcripts of a larger tree).</summary>
    public int TranscriptsWithoutAudio { get; init; }

    /// <summary>Score lines whose id names no audio clip found.</summary>
    public int ScoresWithoutAudio { get; init; }

    /// <summary>Utterances written.</summary>
    public int Kept { get; init; }

    /// <summary>Speakers written.</summary>
    public int Speakers { get; init; }

    /// <summary>Up to <see cref="VoxCeleb2ImportOptions.Examples"/> ids (sorted) per category above, keyed by its JSON name.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Examples { get; init; }

    /// <summary>
    /// Every clip dropped for bad input (missing mp4, missing or empty transcript, missing score), with the file at
    /// fault; only with <see cref="VoxCeleb2ImportOptions.SkipBadInputs"/>. Not in <c>import_report.json</c> (which
    /// has the counts and examples): a <see cref="SkipReport"/> holds the full list.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<BadItem> BadInputs { get; init; } = [];

    /// <summary>One line of the main counts.</summary>
    public string Summary() =>
        $"found {Found} audio clips ({VideoFound} video); kept {Kept} utterances of {Speakers} speakers; dropped: "
        + $"missing mp4 {MissingMp4}, missing transcript {MissingTranscript}, empty transcript {EmptyTranscript}, "
        + $"missing score {MissingScore}, below threshold {BelowThreshold}, over speaker cap {OverSpeakerCap}, "
        + $"speaker below minimum {SpeakerBelowMinimum} ({SpeakersBelowMinimum} speakers)";

    /// <summary>The report as indented JSON (camelCase names).</summary>
    public string ToJson() =>
        JsonSerializer.Serialize(
            this,
            new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }
        );
}
