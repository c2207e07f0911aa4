namespace Research.Model.Data;

/// <summary>
/// One labelled CMU-MOSEI segment (one row of the labels root) with the feature rows of each modality whose
/// interval overlaps [<see cref="Start"/>, <see cref="End"/>] (rule: <see cref="IntervalOverlap"/>).
/// </summary>
/// <param name="VideoId">The video.</param>
/// <param name="Index">The segment's row in the video's labels (0-based, file order).</param>
/// <param name="Start">Segment start, seconds.</param>
/// <param name="End">Segment end, seconds.</param>
/// <param name="Fold">The fold of the video.</param>
/// <param name="Sentiment">Labels column 0, in [-3, 3]; not one of the emotions.</param>
/// <param name="Intensities">The 6 emotions in <see cref="Emotions"/> order: annotator means in [0, 3] (labels columns 1–6).</param>
/// <param name="Present">Intensity &gt; 0 per emotion: the paper's binarised targets (§4.1).</param>
/// <param name="Audio">(rows, d) audio features, or null when audio was not read.</param>
/// <param name="Video">(rows, d) video features, or null when video was not read.</param>
/// <param name="Text">(rows, d) text features, or null when text was not read.</param>
public sealed record MoseiSegment(
    string VideoId,
    int Index,
    double Start,
    double End,
    MoseiFold Fold,
    float Sentiment,
    float[] Intensities,
    bool[] Present,
    float[,]? Audio,
    float[,]? Video,
    float[,]? Text
)
{
    /// <summary>The emotions, in the column order of the SDK's "All Labels" after sentiment.</summary>
    public static IReadOnlyList<string> Emotions { get; } = ["happy", "sad", "anger", "surprise", "disgust", "fear"];
}
