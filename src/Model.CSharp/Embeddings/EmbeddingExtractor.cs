using Research.Model.Data;
using Research.Model.Models;
using Research.Model.Modules;
using Research.Model.Runtime;
using Research.Model.Training;
using static TorchSharp.torch;

namespace Research.Model.Embeddings;

/// <summary>
/// Embeddings from the joint encoder: per item the mean over valid steps of the fused output
/// (Σ modality weight × stream), and on request the fused output per step. The steps are the encoder's query axis:
/// audio frames, or for an any-subset encoder (<see cref="MultimodalEncoder.AnySubset"/>) whose audio weight is 0
/// video frames, else words. The encoder runs in evaluation mode (its previous mode is restored afterwards) without
/// gradients, one dispose scope per batch. Which modalities enter is the encoder's
/// <see cref="MultimodalEncoder.Weights"/>: a modality whose weight is 0 is neither read nor computed (audio too,
/// for an any-subset encoder; the paper's encoder always reads audio, its query axis).
/// </summary>
public static class EmbeddingExtractor
{
    /// <summary>
    /// The store modalities a set of weights reads: video and text when their weight is positive; audio always for the
    /// paper's encoder (its query axis), for an any-subset one only when its weight is positive.
    /// </summary>
    public static string[] ModalitiesRead(ModalityWeights weights, bool anySubset = false)
    {
        var result = new List<string>();
        if (weights.Audio > 0 || !anySubset)
        {
            result.Add(CorpusFeatures.Audio);
        }
        if (weights.Video > 0)
        {
            result.Add(CorpusFeatures.Video);
        }
        if (weights.Text > 0)
        {
            result.Add(CorpusFeatures.Text);
        }
        return result.ToArray();
    }

    /// <summary>The modality whose steps the output lies on: the first one read (audio, else video, else text).</summary>
    public static string QueryModality(ModalityWeights weights, bool anySubset = false) => ModalitiesRead(weights, anySubset)[0];

    /// <summary>
    /// Checks, without reading features, that the store has every modality the weights read and that each of the
    /// items has at least one frame of each: an error names the store, the item and the modality.
    /// </summary>
    public static void RequireFrames(FeatureStore store, IReadOnlyList<int> items, ModalityWeights weights, bool anySubset = false)
    {
        foreach (var modality in ModalitiesRead(weights, anySubset))
        {
            if (!store.Modalities.Contains(modality))
            {
                throw new InvalidDataException(
                    $"feature store {store.Directory} has no '{modality}' features (it has: {string.Join(", ", store.Modalities)})"
                        + (modality == CorpusFeatures.Audio ? "; the encoder needs audio" : $"; give the {modality} weight 0")
                );
            }
            var lengths = store.Lengths(modality);
            foreach (int item in items)
            {
                if (item < 0 || item >= store.Count)
                {
                    throw new ArgumentOutOfRangeException(nameof(items), item, $"feature store {store.Directory} has {store.Count} items");
                }
                if (lengths[item] < 1)
                {
                    string what = lengths[item] < 0 ? "no" : "empty (0-frame)";
                    throw new InvalidDataException(
                        $"feature store {store.Directory}: item '{store.Ids[item]}' (#{item}) has {what} '{modality}' features, "
                            + (
                                modality == CorpusFeatures.Audio
                                    ? "and the encoder needs audio"
                                    : $"which the embedding uses (weight {Weight(weights, modality)}); leave {modality} out of the modalities or drop the item"
                            )
                    );
                }
            }
        }
    }

    static double Weight(ModalityWeights w, string modality) =>
        modality switch
        {
            CorpusFeatures.Video => w.Video,
            CorpusFeatures.Text => w.Text,
            _ => w.Audio,
        };

    /// <summary>Audio steps of the items together: the rows of a frame-level output of the paper's encoder.</summary>
    public static long AudioSteps(FeatureStore store, IReadOnlyList<int> items) => Steps(store, items, CorpusFeatures.Audio);

    /// <summary>Steps of <paramref name="modality"/> of the items together (see <see cref="QueryModality"/>).</summary>
    public static long Steps(FeatureStore store, IReadOnlyList<int> items, string modality)
    {
        var lengths = store.Lengths(modality);
        return items.Sum(i => (long)Math.Max(0, lengths[i]));
    }

    /// <summary>
    /// Embeds <paramref name="items"/> (store positions) in the order given. Checks every item first
    /// (<see cref="RequireFrames"/>), then computes lazily as the result is enumerated: windows of
    /// <see cref="EmbeddingOptions.Window"/> items are sorted by audio length into batches and returned in order.
    /// </summary>
    public static IEnumerable<ItemEmbedding> Embed(
        MultimodalEncoder encoder,
        FeatureStore store,
        IReadOnlyList<int> items,
        EmbeddingOptions? options = null
    )
    {
        var o = options ?? new EmbeddingOptions();
        o.Validate();
        RequireFrames(store, items, encoder.Weights, encoder.AnySubset);
        return Iterate(encoder, store, items.ToArray(), o);
    }

    static IEnumerable<ItemEmbedding> Iterate(MultimodalEncoder encoder, FeatureStore store, int[] items, EmbeddingOptions o)
    {
        var lengths = store.Lengths(QueryModality(encoder.Weights, encoder.AnySubset));
        var device = encoder.parameters().First().device;
        bool wasTraining = encoder.training;
        encoder.eval();
        try
        {
            for (int start = 0; start < items.Length; start += o.Window)
            {
                int count = Math.Min(o.Window, items.Length - start);
                var order = Enumerable.Range(start, count).OrderBy(k => lengths[items[k]]).ToArray();
                var results = new ItemEmbedding[count];
                for (int b = 0; b < order.Length; b += o.BatchSize)
                {
                    var batch = order.Skip(b).Take(o.BatchSize).ToArray();
                    var positions = batch.Select(k => items[k]).ToArray();
                    // Guarded like training steps: a finalizer running during a native call can free a TorchSharp
                    // Scalar under libtorch's feet (CollectionGuard); the full test suite once failed here that way.
                    var embedded = CollectionGuard.Run(() => EmbedBatch(encoder, store, positions, device, o.Frames));
                    for (int j = 0; j < batch.Length; j++)
                    {
                        results[batch[j] - start] = embedded[j];
                    }
                }
                foreach (var r in results)
                {
                    yield return r;
                }
            }
        }
        finally
        {
            if (wasTraining)
            {
                encoder.train();
            }
        }
    }

    /// <summary>One forward pass over store items; results in the order of <paramref name="batch"/>.</summary>
    static ItemEmbedding[] EmbedBatch(MultimodalEncoder encoder, FeatureStore store, int[] batch, Device device, bool frames)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = encoder.Weights;
        Sequence Load(string modality) => StoreBatches.Padded(store, batch, modality, device);
        var input = new EncoderInput(
            w.Audio > 0 || !encoder.AnySubset ? Load(CorpusFeatures.Audio) : null,
            w.Video > 0 ? Load(CorpusFeatures.Video) : null,
            w.Text > 0 ? Load(CorpusFeatures.Text) : null
        );
        var output = encoder.forward(input);
        var pooled = Pooling.MaskedMean(output.Fused, output.Padding).cpu().contiguous(); // (B, D)
        int d = (int)pooled.shape[1];
        var means = pooled.data<float>().ToArray();
        var steps = output.Padding.logical_not().sum(1).cpu().data<long>().ToArray(); // valid steps of the output axis
        float[]? fused = frames ? output.Fused.cpu().contiguous().data<float>().ToArray() : null; // (B, T, D)
        long maxSteps = output.Fused.shape[1];
        var result = new ItemEmbedding[batch.Length];
        for (int j = 0; j < batch.Length; j++)
        {
            var mean = new float[d];
            Array.Copy(means, (long)j * d, mean, 0, d);
            float[,]? itemFrames = null;
            if (fused is not null)
            {
                itemFrames = new float[steps[j], d];
                Buffer.BlockCopy(fused, (int)(j * maxSteps * d * sizeof(float)), itemFrames, 0, (int)(steps[j] * d * sizeof(float)));
            }
            result[j] = new ItemEmbedding(batch[j], store.Ids[batch[j]], mean, itemFrames);
        }
        return result;
    }
}
