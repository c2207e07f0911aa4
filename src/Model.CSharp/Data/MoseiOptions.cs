namespace Research.Model.Data;

/// <summary>The feature streams a MOSEI segment can carry.</summary>
[Flags]
public enum MoseiModalities
{
    /// <summary>Labels only (the cheap path: no feature file is read).</summary>
    None = 0,

    /// <summary>The audio root (COVAREP by default).</summary>
    Audio = 1,

    /// <summary>The video root (FACET 4.2 by default).</summary>
    Video = 2,

    /// <summary>The text root (glove_vectors by default).</summary>
    Text = 4,

    /// <summary>Audio, video and text.</summary>
    All = Audio | Video | Text,
}

/// <summary>
/// How <see cref="MoseiCorpus"/> reads a folder of <c>.csd</c> files. Files are matched by their root group, never
/// by file name, so any root can serve any modality (e.g. a demo corpus's <c>LFBE</c> and <c>Pixels64</c>).
/// </summary>
public sealed record MoseiOptions
{
    /// <summary>Root of the audio features (SDK file CMU_MOSEI_COVAREP.csd).</summary>
    public string AudioRoot { get; init; } = "COVAREP";

    /// <summary>Root of the video features (SDK file CMU_MOSEI_VisualFacet42.csd; OpenFace_2 is the other choice).</summary>
    public string VideoRoot { get; init; } = "FACET 4.2";

    /// <summary>Root of the text features (SDK file CMU_MOSEI_TimestampedWordVectors.csd).</summary>
    public string TextRoot { get; init; } = "glove_vectors";

    /// <summary>Root of the labels (SDK file CMU_MOSEI_Labels.csd): one row per segment, sentiment then 6 emotions.</summary>
    public string LabelsRoot { get; init; } = "All Labels";

    /// <summary>
    /// The modalities to read. Each one read is required: a segment with no overlapping row in it (or whose video
    /// the modality's file lacks) is an error naming the segment, unless <see cref="SkipEmptySegments"/>.
    /// </summary>
    public MoseiModalities Modalities { get; init; } = MoseiModalities.All;

    /// <summary>
    /// What a -inf feature becomes. 0 is what the MulT/CMU-MultimodalSDK MOSEI pipelines use
    /// (<c>audio[audio == -np.inf] = 0</c>), so models see the inputs published MOSEI results were trained on; unlike a
    /// column minimum it does not depend on which videos are loaded, so a segment's features are the same whatever
    /// the split. COVAREP's -inf are logs of zero energy in silent frames. Every replacement is counted in the report.
    /// </summary>
    public float NegativeInfinityValue { get; init; }

    /// <summary>Skip (and list in the report) a segment that has no row in a required modality, instead of failing.</summary>
    public bool SkipEmptySegments { get; init; }

    /// <summary>
    /// Skip (and list in the report) a segment that overlaps a feature row holding NaN or +inf, instead of failing
    /// on the first such row of a loaded video.
    /// </summary>
    public bool SkipNaNSegments { get; init; }

    /// <summary>Labels only: what inspect reads.</summary>
    public static MoseiOptions LabelsOnly => new() { Modalities = MoseiModalities.None };

    /// <summary>The root serving <paramref name="modality"/> (one flag).</summary>
    public string RootOf(MoseiModalities modality) =>
        modality switch
        {
            MoseiModalities.Audio => AudioRoot,
            MoseiModalities.Video => VideoRoot,
            MoseiModalities.Text => TextRoot,
            _ => throw new ArgumentOutOfRangeException(nameof(modality), modality, "expected one of Audio, Video, Text"),
        };
}
