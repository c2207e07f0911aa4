namespace Research.Model.Video;

/// <summary>
/// Turns decoded frames into one feature vector per frame (the model's video input, (frames, Dimension)).
/// Implementations: <see cref="Vgg16Features"/> (the paper's VGG-16 fc7) and <see cref="VisualFeatures"/> (the demo's
/// cheap 64×64 grayscale feature). Precomputed features skip extraction: <see cref="VideoFeatures.Precomputed"/>.
/// </summary>
public interface IFrameFeatureExtractor
{
    /// <summary>Features per frame.</summary>
    int Dimension { get; }

    /// <summary>Width frames are decoded at.</summary>
    int FrameWidth { get; }

    /// <summary>Height frames are decoded at.</summary>
    int FrameHeight { get; }

    /// <summary>ffmpeg scaler for decoding (null: ffmpeg's default, bicubic).</summary>
    string? ScaleFlags { get; }

    /// <summary>Features of each frame: (frames.Count, <see cref="Dimension"/>).</summary>
    float[,] Extract(RgbFrames frames);
}
