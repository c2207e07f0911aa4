using Research.Model.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Audio-only transformer encoder: Linear(AudioDim, D) → + positions → dropout → N self-attention layers → LayerNorm.
/// forward(features (B, T, AudioDim), padding (B, T) bool, true = pad) → (B, T, D), zero at padded frames.
/// </summary>
public sealed class AudioEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear input_proj;
    readonly ParallelDropout dropout;
    readonly ModuleList<EncoderLayer> layers;
    readonly LayerNorm final_norm;

    public AudioEncoder(string name, ModelConfig config)
        : base(name)
    {
        input_proj = nn.Linear(config.AudioDim, config.DModel);
        dropout = new ParallelDropout("dropout", config.Dropout);
        layers = new ModuleList<EncoderLayer>();
        for (int i = 0; i < config.AudioLayers; i++)
        {
            layers.Add(new EncoderLayer($"layer{i}", config.DModel, config.Heads, config.FeedForward, config.Dropout));
        }
        final_norm = nn.LayerNorm(config.DModel);
        RegisterComponents();
    }

    public override Tensor forward(Tensor features, Tensor padding)
    {
        Shapes.RequireSequence(features, padding, input_proj.in_features, "audio");
        var attend = Masks.FromKeyPadding(padding);
        var x = dropout.forward(PositionalEncoding.Add(input_proj.forward(features)));
        foreach (var layer in layers)
        {
            x = layer.forward(x, attend);
        }
        return Pooling.ZeroPadding(final_norm.forward(x), padding);
    }

    /// <summary>Self-attention weights of every layer, (B, H, T, T) each, for one input.</summary>
    public Tensor[] AttentionWeights(Tensor features, Tensor padding)
    {
        var attend = Masks.FromKeyPadding(padding);
        var x = PositionalEncoding.Add(input_proj.forward(features));
        var result = new Tensor[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            result[i] = layers[i].AttentionWeights(x, attend);
            x = layers[i].forward(x, attend);
        }
        return result;
    }
}
