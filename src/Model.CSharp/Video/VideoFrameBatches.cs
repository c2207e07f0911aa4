using System.Collections.Concurrent;
using System.Threading;

namespace Research.Model.Video;

/// <summary>
/// Decodes videos for a feature store build a chunk at a time (<see cref="Data.FeatureCacheOptions.BeforeChunk"/>):
/// <see cref="Prefetch"/> decodes a chunk's videos in one ffmpeg process (<see cref="VideoFrames.TryReadMany"/>),
/// and <see cref="Read"/> hands each video's frames out once, decoding on its own what was not prefetched (a
/// <c>.npy</c> of precomputed features is never decoded). The frames are those of <see cref="VideoFrames.Read"/>; a
/// batch that fails leaves its videos to be decoded one by one, so errors still name the file.
/// </summary>
public sealed class VideoFrameBatches(double fps, int width, int height, string? scaleFlags, string ffmpeg = "ffmpeg")
{
    /// <summary>Frames side at most this (the grey-level stand-in, 32×32): larger frames (VGG-16's 224×224) are decoded one
    /// video at a time, where the network's cost dwarfs ffmpeg's start-up and a chunk's frames would fill memory.</summary>
    public const int MaxBatchedSide = 64;

    readonly ConcurrentDictionary<string, RgbFrames> ready = new(StringComparer.Ordinal);

    /// <summary>Whether frames of this size are decoded in batches.</summary>
    public bool Batched => width <= MaxBatchedSide && height <= MaxBatchedSide;

    /// <summary>Videos decoded by <see cref="Prefetch"/> and handed out so far.</summary>
    public int Prefetched => prefetched;

    /// <summary>Batches that did not decode cleanly (their videos were then decoded one by one).</summary>
    public int FailedBatches => failedBatches;

    int prefetched;
    int failedBatches;

    /// <summary>Decodes these videos together (paths ending in <c>.npy</c> are skipped); a no-op for large frames.</summary>
    public void Prefetch(IEnumerable<string> paths)
    {
        if (!Batched)
        {
            return;
        }
        var todo = paths
            .Where(p => !p.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) && !ready.ContainsKey(p))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (todo.Count < 2)
        {
            return;
        }
        var frames = VideoFrames.TryReadMany(todo, fps, width, height, scaleFlags, ffmpeg);
        if (frames is null)
        {
            Interlocked.Increment(ref failedBatches);
            return;
        }
        for (int k = 0; k < todo.Count; k++)
        {
            ready[todo[k]] = frames[k];
        }
    }

    /// <summary>The frames of <paramref name="path"/>: prefetched (and then forgotten) or decoded now.</summary>
    public RgbFrames Read(string path)
    {
        if (ready.TryRemove(path, out var frames))
        {
            Interlocked.Increment(ref prefetched);
            return frames;
        }
        return VideoFrames.Read(path, fps, width, height, scaleFlags, ffmpeg);
    }
}
