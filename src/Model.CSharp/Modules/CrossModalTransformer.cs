using Research.Model.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Projects one modality into the audio stream (MulT [18], as used in [19]): the source is embedded
/// (Linear(SourceDim, D) → + positions → dropout); the target stream, initialised with the audio encoder's
/// output, attends to it through N cross-modal layers; a final LayerNorm. Unlike MulT, source and target
/// padding are both masked. The output lives on the audio time axis.
/// forward(audio (B, Ta, D), audioPadding (B, Ta), source (B, Ts, SourceDim), sourcePadding (B, Ts)) → (B, Ta, D).
/// </summary>
public sealed class CrossModalTransformer : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    readonly Linear source_proj;
    readonly ParallelDropout dropout;
    readonly ModuleList<CrossModalLayer> layers;
    readonly LayerNorm final_norm;
    readonly string modality;

    public CrossModalTransformer(string name, string modality, long sourceDim, ModelConfig config)
        : base(name)
    {
        this.modality = modality;
        source_proj = nn.Linear(sourceDim, config.DModel);
        dropout = new ParallelDropout("dropout", config.Dropout);
        layers = new ModuleList<CrossModalLayer>();
        for (int i = 0; i < config.CrossModalLayers; i++)
        {
            layers.Add(new CrossModalLayer($"layer{i}", config.DModel, config.Heads, config.FeedForward, config.Dropout));
        }
        final_norm = nn.LayerNorm(config.DModel);
        RegisterComponents();
    }

    public override Tensor forward(Tensor audio, Tensor audioPadding, Tensor source, Tensor sourcePadding)
    {
        Shapes.RequireSequence(source, sourcePadding, source_proj.in_features, modality);
        Masks.RequireNonEmpty(sourcePadding, modality);
        var attend = Masks.FromKeyPadding(sourcePadding);
        var s = dropout.forward(PositionalEncoding.Add(source_proj.forward(source)));
        var x = audio;
        foreach (var layer in layers)
        {
            x = layer.forward(x, s, attend);
        }
        return Pooling.ZeroPadding(final_norm.forward(x), audioPadding);
    }

    /// <summary>
    /// The source's embedding as forward computes it (Linear → + positions → dropout), (B, Ts, D): the query axis of
    /// the any-subset encoder when audio is absent (see <see cref="ModelConfig.AnySubset"/>).
    /// </summary>
    public Tensor Embed(Tensor source, Tensor sourcePadding)
    {
        Shapes.RequireSequence(source, sourcePadding, source_proj.in_features, modality);
        return dropout.forward(PositionalEncoding.Add(source_proj.forward(source)));
    }

    /// <summary>
    /// Cross-modal attention probabilities of every layer for a batch, (B, H, Ta, Ts) each, computed as forward
    /// computes them (same source embedding, same key-padding mask; dropout is not applied, as in evaluation mode).
    /// Each row of a valid audio step sums to 1 over the item's valid source steps and is 0 on padded ones; rows of
    /// padded audio steps are 0. An item without source steps is an error naming it, as in forward.
    /// </summary>
    public Tensor[] AttentionMaps(Tensor audio, Tensor audioPadding, Tensor source, Tensor sourcePadding)
    {
        Shapes.RequireSequence(source, sourcePadding, source_proj.in_features, modality);
        Shapes.RequireSequence(audio, audioPadding, audio.shape[^1], "audio");
        Masks.RequireNonEmpty(sourcePadding, modality);
        var queryPadding = audioPadding.unsqueeze(1).unsqueeze(-1); // (B, 1, Ta, 1)
        var maps = AttentionWeights(audio, source, sourcePadding);
        for (int i = 0; i < maps.Length; i++)
        {
            maps[i] = maps[i].masked_fill(queryPadding, 0.0);
        }
        return maps;
    }

    /// <summary>Cross-modal attention weights of every layer, (B, H, Ta, Ts) each.</summary>
    public Tensor[] AttentionWeights(Tensor audio, Tensor source, Tensor sourcePadding)
    {
        var attend = Masks.FromKeyPadding(sourcePadding);
        var s = PositionalEncoding.Add(source_proj.forward(source));
        var x = audio;
        var result = new Tensor[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            result[i] = layers[i].AttentionWeights(x, s, attend);
            x = layers[i].forward(x, s, attend);
        }
        return result;
    }
}
