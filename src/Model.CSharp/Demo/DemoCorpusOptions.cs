namespace Research.Model.Demo;

/// <summary>
/// Size and content of the generated demo corpora. Defaults make both corpora in a few minutes on two cores and
/// keep the demo pipeline (pre-training, fine-tuning, baselines, seeds) within its budget.
/// </summary>
public sealed record DemoCorpusOptions
{
    /// <summary>Everything random derives from this seed: same seed, same corpus.</summary>
    public int Seed { get; init; } = 20201;

    /// <summary>Speakers of the pre-training corpus (VoxCeleb2's role); the task asks for at least 100.</summary>
    public int PretrainSpeakers { get; init; } = 120;

    /// <summary>Utterances per pre-training speaker.</summary>
    public int UtterancesPerSpeaker { get; init; } = 12;

    /// <summary>Speakers of the emotion corpus (CMU-MOSEI's role), none shared with pre-training.</summary>
    public int EmotionSpeakers { get; init; } = 60;

    /// <summary>Videos per emotion speaker; each video holds several labelled segments.</summary>
    public int VideosPerSpeaker { get; init; } = 4;

    /// <summary>Fewest and most segments per video.</summary>
    public int MinSegments { get; init; } = 3;

    /// <summary>Fewest and most segments per video.</summary>
    public int MaxSegments { get; init; } = 6;

    /// <summary>Video frame rate. 10/s (not 25) keeps the 1024-d visual features of the corpus small.</summary>
    public int FramesPerSecond { get; init; } = 10;

    /// <summary>Rendered face size in pixels (square).</summary>
    public int FrameSize { get; init; } = 64;

    /// <summary>
    /// Side of the demo visual feature: frames are reduced to this many pixels per side (32 → 1024-d). Pretrained
    /// VGG-16 weights cannot be downloaded here and a random-weight VGG-16 costs ~15 GFLOP per frame, so the demo
    /// uses normalised grey levels, which show the mouth, brows and eyes the generator draws.
    /// </summary>
    public int FeatureSide { get; init; } = 32;

    /// <summary>Dimension of the demo word vectors (GloVe's 300).</summary>
    public int WordVectorDim { get; init; } = 300;

    /// <summary>
    /// Share of emotion speakers in the validation fold (folds are by speaker, all of a speaker's videos in one fold;
    /// the rest train), like MOSEI's 2249/300/678 videos. Each fold gets at least one speaker.
    /// </summary>
    public double ValidShare { get; init; } = 0.1;

    /// <summary>Share of emotion speakers in the test fold (at least one).</summary>
    public double TestShare { get; init; } = 0.2;

    /// <summary>Worker threads for synthesis, rendering and encoding.</summary>
    public int Workers { get; init; } = System.Environment.ProcessorCount;

    /// <summary>These options with another seed and worker count (workers do not change the corpus).</summary>
    public DemoCorpusOptions With(int seed, int workers) => this with { Seed = seed, Workers = workers };

    /// <summary>A small corpus for tests: a few speakers and videos (one emotion speaker per fold).</summary>
    public static DemoCorpusOptions Tiny =>
        new()
        {
            PretrainSpeakers = 3,
            UtterancesPerSpeaker = 2,
            EmotionSpeakers = 3,
            VideosPerSpeaker = 2,
            MinSegments = 2,
            MaxSegments = 3,
        };
}
