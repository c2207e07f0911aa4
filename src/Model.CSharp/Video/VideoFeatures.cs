namespace Research.Model.Video;

/// <summary>
/// Per-frame visual features of one item, (frames, dimension): extracted from a video file, or precomputed
/// (e.g. read from a .npy of (frames, 4096) by the data readers) and checked here.
/// </summary>
public static class VideoFeatures
{
    /// <summary>
    /// Decodes <paramref name="path"/> at <paramref name="fps"/> at the extractor's frame size and returns its
    /// features (frames, extractor.Dimension). Needs ffmpeg; errors name the file.
    /// </summary>
    public static float[,] FromFile(string path, double fps, IFrameFeatureExtractor extractor, string ffmpeg = "ffmpeg")
    {
        ArgumentNullException.ThrowIfNull(extractor);
        var frames = VideoFrames.Read(path, fps, extractor.FrameWidth, extractor.FrameHeight, extractor.ScaleFlags, ffmpeg);
        return extractor.Extract(frames);
    }

    /// <summary>
    /// Checks precomputed features of <paramref name="item"/>: at least one frame, <paramref name="dimension"/>
    /// columns (4096 for VGG-16 fc7), every value finite. Returns the same array; errors name the item and the
    /// offending frame.
    /// </summary>
    public static float[,] Precomputed(float[,] features, string item, int dimension = Vgg16.FeatureDimension)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.GetLength(0) == 0)
        {
            throw new ArgumentException($"{item}: precomputed video features have no frames");
        }
        if (features.GetLength(1) != dimension)
        {
            throw new ArgumentException(
                $"{item}: precomputed video features are ({features.GetLength(0)}, {features.GetLength(1)}), expected (frames, {dimension})"
            );
        }
        for (int f = 0; f < features.GetLength(0); f++)
        {
            for (int d = 0; d < dimension; d++)
            {
                if (!float.IsFinite(features[f, d]))
                {
                    throw new ArgumentException($"{item}: precomputed video feature of frame {f}, column {d} is {features[f, d]}");
                }
            }
        }
        return features;
    }
}
