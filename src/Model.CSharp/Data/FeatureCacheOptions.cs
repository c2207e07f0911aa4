namespace Research.Model.Data;

/// <summary>How <see cref="FeatureCache.Build"/> computes and stores features.</summary>
public sealed class FeatureCacheOptions
{
    /// <summary>Items computed at once (1: one after another on the calling thread). Results are written in item order either way.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>
    /// Items computed per chunk (0: 1 on one thread, else 4 × <see cref="Parallelism"/>): a chunk's outcomes are held
    /// until they are written in order.
    /// </summary>
    public int ChunkSize { get; init; }

    /// <summary>
    /// Called on the building thread before each chunk with the positions (in the items given to the build) of the
    /// chunk's items that will be computed, never empty: a hook to prepare their inputs together (one ffmpeg process
    /// decoding a chunk's videos, <see cref="Video.VideoFrameBatches"/>). Not part of the store's identity.
    /// </summary>
    public Action<IReadOnlyList<int>>? BeforeChunk { get; init; }

    /// <summary>
    /// Leave out items whose features fail (an exception, NaN or ±inf, a wrong width), counting and listing them in
    /// the result and in <c>build-report.json</c>, instead of stopping the build. Off by default.
    /// </summary>
    public bool SkipFailedItems { get; init; }

    /// <summary>
    /// Modalities stored as float16 (default: none, all float32). For wide, large modalities where disk and I/O
    /// dominate: VGG-16 fc7 video features (4,096 per frame, ~25 frames/s) are ~25× the 40-d LFBE audio, and float16
    /// halves them at ~3 significant digits. Values beyond ±65504 are an error. Changing this recomputes the items of
    /// the modalities it changes (float16 bytes cannot be turned back into the float32 values).
    /// </summary>
    public IReadOnlyCollection<string> Float16Modalities { get; init; } = Array.Empty<string>();

    /// <summary>
    /// Text files (name → content) written into the store folder with the store, so that they change together with
    /// it (e.g. <c>cmvn.json</c>, the statistics its features were normalised with). When the items are unchanged
    /// and only a file differs, that file alone is replaced (atomically). Names must be plain file names that are
    /// not the store's own files.
    /// </summary>
    public IReadOnlyDictionary<string, string> ExtraFiles { get; init; } = new Dictionary<string, string>();
}
