using Research.Model.Models;
using Research.Model.Text;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Embedding = TorchSharp.Modules.Embedding;

namespace Research.Model.Modules;

/// <summary>
/// Character ASR head: a transformer decoder over the fused encoder output. Embedding·√D → + positions →
/// dropout → N decoder layers (causal self-attention, attention over the encoder) → LayerNorm → Linear(D, V).
/// forward(tokens (B, L) int64, memory (B, T, D), memoryPadding (B, T)) → logits (B, L, V); position t sees tokens ≤ t.
/// </summary>
public sealed class AsrDecoder : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    readonly Embedding embed;
    readonly ParallelDropout dropout;
    readonly ModuleList<DecoderLayer> layers;
    readonly LayerNorm final_norm;
    readonly Linear output;
    readonly double scale;

    public AsrDecoder(string name, ModelConfig config)
        : base(name)
    {
        embed = nn.Embedding(config.VocabSize, config.DModel, padding_idx: CharVocabulary.Pad);
        dropout = new ParallelDropout("dropout", config.Dropout);
        layers = new ModuleList<DecoderLayer>();
        for (int i = 0; i < config.DecoderLayers; i++)
        {
            layers.Add(new DecoderLayer($"layer{i}", config.DModel, config.Heads, config.FeedForward, config.Dropout));
        }
        final_norm = nn.LayerNorm(config.DModel);
        output = nn.Linear(config.DModel, config.VocabSize);
        scale = Math.Sqrt(config.DModel);
        RegisterComponents();
    }

    /// <summary>Whether <see cref="Greedy"/> computes only the new position at each step (the default).</summary>
    public bool Incremental { get; set; } = true;

    public override Tensor forward(Tensor tokens, Tensor memory, Tensor memoryPadding)
    {
        if (tokens.dtype != ScalarType.Int64 || tokens.dim() != 2)
        {
            throw new ArgumentException($"tokens must be (Batch, Length) int64, got {tokens.dtype} [{string.Join(", ", tokens.shape)}]");
        }
        var selfAttend = Masks.Causal(tokens.shape[1], tokens.device);
        var memoryAttend = Masks.FromKeyPadding(memoryPadding);
        var y = dropout.forward(PositionalEncoding.Add(embed.forward(tokens) * scale));
        foreach (var layer in layers)
        {
            y = layer.forward(y, memory, selfAttend, memoryAttend);
        }
        return output.forward(final_norm.forward(y));
    }

    /// <summary>
    /// Greedy decoding: from the start symbol, append the most likely character until every item has produced
    /// the end symbol or <paramref name="maxLength"/> characters. Returns character ids without specials. Runs in evaluation
    /// mode (dropout off) and restores the decoder's previous mode. Each step computes the new position only, from each
    /// layer's normalised inputs at the positions before it (the causal mask makes earlier positions independent of
    /// later ones), rather than the whole prefix again; <see cref="Incremental"/> false recomputes the prefix, as
    /// <see cref="forward"/> does (the same characters; the test compares both).
    /// </summary>
    public long[][] Greedy(Tensor memory, Tensor memoryPadding, int maxLength)
    {
        using var _ = no_grad();
        bool wasTraining = training;
        eval(); // dropout off: decoding is deterministic; the previous mode comes back afterwards
        try
        {
            long b = memory.shape[0];
            var ys = full(b, 1, CharVocabulary.Sos, dtype: ScalarType.Int64, device: memory.device);
            var finished = zeros(b, dtype: ScalarType.Bool, device: memory.device);
            using var positions = PositionalEncoding.Table(maxLength + 1, memory.shape[2], memory.device, memory.dtype);
            using var memoryAttend = Masks.FromKeyPadding(memoryPadding);
            var past = new Tensor?[layers.Count];
            for (int step = 0; step < maxLength; step++)
            {
                using var scope = NewDisposeScope();
                Tensor next;
                if (Incremental)
                {
                    var y = embed.forward(ys.narrow(1, step, 1)) * scale + positions.narrow(0, step, 1).unsqueeze(0); // (B, 1, D)
                    for (int i = 0; i < layers.Count; i++)
                    {
                        var (stepOutput, keys) = layers[i].Step(y, past[i], memory, memoryAttend);
                        past[i]?.Dispose();
                        past[i] = keys.MoveToOuterDisposeScope();
                        y = stepOutput;
                    }
                    next = output.forward(final_norm.forward(y)).select(1, 0).argmax(-1); // (B)
                }
                else
                {
                    next = forward(ys, memory, memoryPadding).select(1, -1).argmax(-1); // (B)
                }
                next = next.masked_fill(finished, CharVocabulary.Pad);
                ys = cat([ys, next.unsqueeze(1)], 1).MoveToOuterDisposeScope();
                finished = finished.logical_or(next.eq(CharVocabulary.Eos)).MoveToOuterDisposeScope();
                if (finished.all().item<bool>())
                {
                    break;
                }
            }
            foreach (var t in past)
            {
                t?.Dispose();
            }
            var flat = ys.cpu().data<long>().ToArray();
            long width = ys.shape[1];
            return Enumerable
                .Range(0, (int)b)
                .Select(i =>
                    flat.Skip((int)(i * width) + 1)
                        .Take((int)width - 1)
                        .TakeWhile(t => t != CharVocabulary.Eos && t != CharVocabulary.Pad)
                        .ToArray()
                )
                .ToArray();
        }
        finally
        {
            if (wasTraining)
            {
                train();
            }
        }
    }
}
