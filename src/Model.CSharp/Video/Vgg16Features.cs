using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Video;

/// <summary>
/// The paper's visual feature: VGG-16 fc7 after ReLU (<see cref="Vgg16.forward"/>) of each frame, decoded at
/// 224×224 (ffmpeg's bicubic scaler, aspect ratio not kept, no crop), scaled to [0, 1] and ImageNet-normalised.
/// Frames go through the network <c>batchSize</c> at a time, in evaluation mode, without gradients.
/// </summary>
public sealed class Vgg16Features : IFrameFeatureExtractor
{
    readonly Vgg16 model;
    readonly int batchSize;

    /// <summary>Features from <paramref name="model"/> (put in evaluation mode), <paramref name="batchSize"/> frames per pass.</summary>
    public Vgg16Features(Vgg16 model, int batchSize = 16, int side = 224)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(side, Vgg16.MinimumSide);
        this.model = model;
        this.batchSize = batchSize;
        FrameWidth = side;
        FrameHeight = side;
        model.eval();
    }

    /// <inheritdoc />
    public int Dimension => (int)model.Hidden;

    /// <inheritdoc />
    public int FrameWidth { get; }

    /// <inheritdoc />
    public int FrameHeight { get; }

    /// <inheritdoc />
    public string? ScaleFlags => null;

    /// <inheritdoc />
    public float[,] Extract(RgbFrames frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        var result = new float[frames.Count, Dimension];
        for (int start = 0; start < frames.Count; start += batchSize)
        {
            int first = start,
                n = Math.Min(batchSize, frames.Count - start);
            CollectionGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var x = Vgg16.Normalize(frames.ToTensor(first, n)); // (n, 3, H, W)
                var y = model.forward(x).to_type(ScalarType.Float32).cpu().contiguous(); // (n, Dimension)
                float[] rows = y.data<float>().ToArray();
                Buffer.BlockCopy(rows, 0, result, first * Dimension * sizeof(float), rows.Length * sizeof(float));
            });
        }
        return result;
    }
}
