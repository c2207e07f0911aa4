using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Video;

/// <summary>
/// VGG-16, configuration D of Simonyan and Zisserman (2015), laid out as torchvision's <c>vgg16</c>:
/// <c>features</c> = 13 conv3 layers (widths 64 ×2, 128 ×2, 256 ×3, 512 ×3, 512 ×3; padding 1, each followed by
/// ReLU) with a 2×2 max pool after each block; <c>avgpool</c> = adaptive average pool to 7×7; <c>classifier</c> =
/// fc6 (25088 → 4096), ReLU, dropout, fc7 (4096 → 4096), ReLU, dropout, fc8 (4096 → 1000). Field names and
/// <see cref="Sequential"/> indices make the saved-weight keys those of torchvision's state_dict
/// (<c>features.0.weight</c> … <c>features.28.bias</c>, <c>classifier.0.weight</c>, <c>classifier.3.weight</c>,
/// <c>classifier.6.weight</c>), so converted torchvision weights load one-to-one (<see cref="Load"/>).
/// <para>forward(images (B, 3, H, W) float, ImageNet-normalised (<see cref="Normalize"/>), H, W ≥ 32) →
/// (B, 4096): the fc7 activation <b>after its ReLU</b> (before the second dropout). That is the paper's 4096-d
/// "VGG-16 feature": Caffe's VGG-16 applies relu7 in place on the fc7 blob, so the fc7 features of the papers of
/// that era are post-ReLU; the ReLU also makes them non-negative, as the rest of the network saw them.</para>
/// <para>Smaller widths (<c>widths</c>, <c>hidden</c>, <c>classes</c>) give the same architecture at test size.</para>
/// </summary>
public sealed class Vgg16 : nn.Module<Tensor, Tensor>
{
    /// <summary>Output width of <see cref="forward"/> with the standard configuration.</summary>
    public const int FeatureDimension = 4096;

    /// <summary>The smallest height and width five 2×2 max pools accept.</summary>
    public const int MinimumSide = 32;

    /// <summary>Channel widths of the five blocks of configuration D.</summary>
    public static IReadOnlyList<long> ConfigurationD { get; } = [64, 128, 256, 512, 512];

    /// <summary>ImageNet channel means (RGB) of torchvision's pretrained weights.</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet channel standard deviations (RGB) of torchvision's pretrained weights.</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [0.229f, 0.224f, 0.225f];

    static readonly int[] ConvsPerBlock = [2, 2, 3, 3, 3];

    readonly Sequential features;
    readonly AdaptiveAvgPool2d avgpool;
    readonly Sequential classifier;

    /// <summary>Width of <see cref="forward"/>'s output (fc7).</summary>
    public long Hidden { get; }

    /// <summary>
    /// A randomly initialised VGG-16; defaults are configuration D with ImageNet's 1000 classes.
    /// </summary>
    public Vgg16(IReadOnlyList<long>? widths = null, long hidden = FeatureDimension, long classes = 1000, double dropout = 0.5)
        : base("vgg16")
    {
        widths ??= ConfigurationD;
        if (widths.Count != ConvsPerBlock.Length)
        {
            throw new ArgumentException($"VGG-16 has {ConvsPerBlock.Length} blocks; got {widths.Count} widths", nameof(widths));
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        var layers = new List<nn.Module<Tensor, Tensor>>();
        long channels = 3;
        for (int block = 0; block < ConvsPerBlock.Length; block++)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(widths[block]);
            for (int i = 0; i < ConvsPerBlock[block]; i++)
            {
                layers.Add(nn.Conv2d(channels, widths[block], kernel_size: 3, padding: 1)); // (B, w, H, W)
                layers.Add(nn.ReLU(inplace: true));
                channels = widths[block];
            }
            layers.Add(nn.MaxPool2d(kernel_size: 2, stride: 2)); // (B, w, H/2, W/2)
        }
        features = nn.Sequential(layers);
        avgpool = nn.AdaptiveAvgPool2d((7, 7)); // (B, 512, 7, 7)
        classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden), // 0: fc6
            nn.ReLU(inplace: true),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden), // 3: fc7
            nn.ReLU(inplace: true), // 4: the features end here
            nn.Dropout(dropout),
            nn.Linear(hidden, classes) // 6: fc8
        );
        Hidden = hidden;
        RegisterComponents();
    }

    /// <summary>fc7 after ReLU: (B, 3, H, W) → (B, <see cref="Hidden"/>).</summary>
    public override Tensor forward(Tensor images) => Classifier(images, 5);

    /// <summary>ImageNet class scores (fc8, before softmax): (B, 3, H, W) → (B, classes).</summary>
    public Tensor Logits(Tensor images) => Classifier(images, classifier.Count);

    Tensor Classifier(Tensor images, int layers)
    {
        CheckImages(images);
        var x = avgpool.call(features.call(images)).flatten(1); // (B, 512·7·7)
        for (int i = 0; i < layers; i++)
        {
            x = classifier[i].call(x);
        }
        return x;
    }

    static void CheckImages(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3 || images.shape[2] < MinimumSide || images.shape[3] < MinimumSide)
        {
            throw new ArgumentException(
                $"VGG-16 expects images (B, 3, H, W) with H, W >= {MinimumSide}; got ({string.Join(", ", images.shape)})"
            );
        }
    }

    /// <summary>ImageNet normalisation of RGB images in [0, 1]: (x − mean) / std per channel; (B, 3, H, W) → same.</summary>
    public static Tensor Normalize(Tensor images01)
    {
        var mean = tensor([.. ImageNetMean], device: images01.device).view(1, 3, 1, 1);
        var std = tensor([.. ImageNetStd], device: images01.device).view(1, 3, 1, 1);
        return (images01 - mean) / std;
    }

    /// <summary>
    /// A VGG-16 in evaluation mode with weights from <paramref name="path"/>, a file in TorchSharp's format
    /// (<c>module.save</c>, or torchvision's weights converted by <c>tools/convert_vgg16.py</c>). The shape
    /// arguments must match those the weights were made with.
    /// </summary>
    public static Vgg16 Load(string path, IReadOnlyList<long>? widths = null, long hidden = FeatureDimension, long classes = 1000)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"VGG-16 weights not found: {path}. Download torchvision's vgg16 weights (vgg16-397923af.pth) elsewhere and "
                    + $"convert them with 'python3 tools/convert_vgg16.py vgg16-397923af.pth {path}' (README, 'VGG-16 weights')",
                path
            );
        }
        var model = new Vgg16(widths, hidden, classes);
        try
        {
            model.load(path);
        }
        catch (Exception e) when (e is ArgumentException or EndOfStreamException or IOException or NotImplementedException)
        {
            model.Dispose();
            throw new InvalidDataException(
                $"{path}: not VGG-16 weights of this shape in TorchSharp's format ({e.Message}); convert torchvision's "
                    + "weights with tools/convert_vgg16.py",
                e
            );
        }
        model.eval();
        return model;
    }
}
