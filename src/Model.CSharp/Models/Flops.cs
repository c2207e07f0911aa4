using Research.Model.Modules;
using Research.Model.Training;

namespace Research.Model.Models;

/// <summary>
/// Forward FLOPs of one part of a model for one batch; <paramref name="OnData"/> of them are products applied
/// directly to the batch's features (input projections, first GRU layer's input weights), whose backward needs
/// no gradient with respect to the features.
/// </summary>
public sealed record FlopPart(string Name, long Forward, long OnData = 0);

/// <summary>Forward FLOPs of a model for one batch, by part, and the training-step estimate.</summary>
public sealed record FlopCount(IReadOnlyList<FlopPart> Parts)
{
    /// <summary>Backward ≈ 2 × forward (gradients with respect to the inputs and to the weights of every product).</summary>
    public const int TrainingStepFactor = 3;

    /// <summary>FLOPs of one forward pass.</summary>
    public long Forward => Parts.Sum(p => p.Forward);

    /// <summary>FLOPs of one training step: forward + backward ≈ 3 × forward; the optimiser update is not counted.</summary>
    public long TrainingStep => TrainingStepFactor * Forward;

    /// <summary>Forward FLOPs of products applied directly to the batch's features.</summary>
    public long OnData => Parts.Sum(p => p.OnData);

    /// <summary>
    /// The training step as autograd runs it: like <see cref="TrainingStep"/> but without the gradient with respect
    /// to the features (they need none), i.e. 3 × forward − <see cref="OnData"/>. The two differ little for the
    /// transformer and by about a quarter for the late-fusion model, whose first video GRU layer dominates.
    /// </summary>
    public long TrainingStepWithoutDataGradients => TrainingStepFactor * Forward - OnData;
}

/// <summary>
/// Analytic FLOP counts. Conventions: one multiply-add = 2 FLOPs; only matrix products are counted — every Linear
/// (input projections, attention q/k/v/out, feed-forward, heads, the decoder's output layer, GRU gate products) and
/// the attention products QKᵀ and AV. Elementwise work (biases, activations, softmax, LayerNorm, dropout, residual
/// sums, GRU gate arithmetic, masking, pooling, embedding lookups, positions) is ignored: it is O(size of the
/// activations), a few percent at these sizes. The transformer is counted on the padded shapes it computes (the
/// attention kernels see padded keys); the GRUs run packed, on valid steps only. A training step is
/// <see cref="FlopCount.TrainingStepFactor"/> × forward (the usual convention, e.g. Kaplan et al. 2020).
/// </summary>
public static class Flops
{
    /// <summary>A Linear(inDim, outDim) applied to <paramref name="rows"/> rows.</summary>
    public static long Linear(long rows, long inDim, long outDim) => 2 * rows * inDim * outDim;

    /// <summary>
    /// Multi-head attention of <paramref name="queries"/> query positions over <paramref name="keys"/> key positions
    /// per item: q and out projections on the queries, k and v projections on the keys, QKᵀ and AV (summed over heads,
    /// H · Tq · Tk · D/H = Tq · Tk · D multiply-adds each). The head count does not change the total.
    /// </summary>
    public static long Attention(long batch, long queries, long keys, long dModel) =>
        2 * Linear(batch * queries, dModel, dModel) + 2 * Linear(batch * keys, dModel, dModel) + 2 * (2 * batch * queries * keys * dModel);

    /// <summary>Feed-forward block on <paramref name="rows"/> rows: Linear(D, F) then Linear(F, D).</summary>
    public static long FeedForward(long rows, long dModel, long inner) => Linear(rows, dModel, inner) + Linear(rows, inner, dModel);

    /// <summary>
    /// One batch through <see cref="MultiTaskModel"/>: the audio encoder, the cross-modal branches whose modality weight is
    /// positive, and the heads whose task weight is positive. The ASR decoder runs with teacher forcing on
    /// Characters + 1 positions (start symbol + characters, as <see cref="Targets.AsrPairs"/> builds them).
    /// </summary>
    public static FlopCount MultiTask(ModelConfig config, BatchShape shape)
    {
        config.Validate();
        long b = shape.Batch,
            ta = shape.AudioSteps,
            d = config.DModel,
            f = config.FeedForward;
        long audioInput = Linear(b * ta, config.AudioDim, d);
        var parts = new List<FlopPart>
        {
            new("audio encoder", audioInput + config.AudioLayers * (Attention(b, ta, ta, d) + FeedForward(b * ta, d, f)), audioInput),
        };
        FlopPart CrossModal(string name, long sourceSteps, long sourceDim)
        {
            long input = Linear(b * sourceSteps, sourceDim, d);
            return new(name, input + config.CrossModalLayers * (Attention(b, ta, sourceSteps, d) + FeedForward(b * ta, d, f)), input);
        }
        if (config.Modalities.Video > 0)
        {
            parts.Add(CrossModal("video→audio transformer", shape.VideoFrames, config.VideoDim));
        }
        if (config.Modalities.Text > 0)
        {
            parts.Add(CrossModal("text→audio transformer", shape.Words, config.TextDim));
        }
        if (config.Tasks.Asr > 0)
        {
            long l = shape.Characters + 1;
            long layer = Attention(b, l, l, d) + Attention(b, l, ta, d) + FeedForward(b * l, d, f);
            parts.Add(new("ASR decoder", config.DecoderLayers * layer + Linear(b * l, d, config.VocabSize)));
        }
        if (config.Tasks.Speaker > 0)
        {
            parts.Add(new("speaker head", Linear(b, d, config.Speakers)));
        }
        if (config.Tasks.Emotion > 0)
        {
            parts.Add(new("emotion head", Linear(b, d, config.Emotions)));
        }
        return new FlopCount(parts);
    }

    /// <summary>
    /// A bidirectional GRU over <paramref name="validSteps"/> steps in all (summed over the batch): per layer, direction
    /// and step, three gates each multiply the input (inDim) and the previous state (hidden) by their weights.
    /// The first layer's input products are on the data.
    /// </summary>
    public static FlopPart BidirectionalGru(string name, long validSteps, long inputDim, long hidden, long layers)
    {
        long total = 0;
        for (long layer = 0; layer < layers; layer++)
        {
            long inDim = layer == 0 ? inputDim : 2 * hidden;
            total += 2 * (Linear(validSteps, inDim, 3 * hidden) + Linear(validSteps, hidden, 3 * hidden));
        }
        return new(name, total, 2 * Linear(validSteps, inputDim, 3 * hidden));
    }

    /// <summary>
    /// One batch through <see cref="LateFusionModel"/>, with the lengths <see cref="SyntheticBatch"/> gives
    /// (every item full length but the last, 3/4 long): the GRUs of the modalities in use, then the classifier.
    /// </summary>
    public static FlopCount LateFusion(LateFusionConfig config, BatchShape shape)
    {
        config.Validate();
        long Steps(int max) => SyntheticBatch.ItemLengths(shape.Batch, max).Sum();
        var parts = new List<FlopPart>();
        if (config.UseAudio)
        {
            parts.Add(BidirectionalGru("audio GRU", Steps(shape.AudioSteps), config.AudioDim, config.Hidden, config.Layers));
        }
        if (config.UseVideo)
        {
            parts.Add(BidirectionalGru("video GRU", Steps(shape.VideoFrames), config.VideoDim, config.Hidden, config.Layers));
        }
        if (config.UseText)
        {
            parts.Add(BidirectionalGru("text GRU", Steps(shape.Words), config.TextDim, config.Hidden, config.Layers));
        }
        long fused = config.ModalityCount * 2L * config.Hidden;
        parts.Add(new("classifier", Linear(shape.Batch, fused, config.FusionDim) + Linear(shape.Batch, config.FusionDim, config.Emotions)));
        return new FlopCount(parts);
    }

    /// <summary>FLOPs of an n×n by n×n matrix product: 2n³.</summary>
    public static long SquareMatmul(long n) =>
        n > 0 ? 2 * n * n * n : throw new ArgumentOutOfRangeException(nameof(n), n, "n must be positive");
}
