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
/// A matrix product of a forward pass: <paramref name="Batch"/> independent (M × K)·(K × N) products, named by the
/// part of the model and the operation; <paramref name="OnData"/> when its left operand is the batch's features.
/// </summary>
public sealed record MatrixProduct(string Part, string Name, long Batch, long M, long K, long N, bool OnData = false)
{
    /// <summary>2 · Batch · M · K · N.</summary>
    public long Flops => 2 * Batch * M * K * N;

    /// <summary>
    /// The three products a training step runs for this one: the forward product; the gradient of the left operand,
    /// (M × N)·(N × K); the gradient of the right operand, (K × M)·(M × N). Each has this product's FLOPs, hence
    /// <see cref="FlopCount.TrainingStepFactor"/> = 3.
    /// </summary>
    public IReadOnlyList<MatrixProduct> TrainingStep =>
        [
            this,
            this with
            {
                Name = $"{Name}: gradient of the left operand",
                K = N,
                N = K,
            },
            this with
            {
                Name = $"{Name}: gradient of the right operand",
                M = K,
                K = M,
            },
        ];
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
    /// positive, and the heads whose task weight is positive, by part (the sums of <see cref="MultiTaskProducts"/>).
    /// </summary>
    public static FlopCount MultiTask(ModelConfig config, BatchShape shape) =>
        new(
            MultiTaskProducts(config, shape)
                .GroupBy(p => p.Part)
                .Select(g => new FlopPart(g.Key, g.Sum(p => p.Flops), g.Where(p => p.OnData).Sum(p => p.Flops)))
                .ToList()
        );

    /// <summary>
    /// Every matrix product of one forward pass of <see cref="MultiTaskModel"/>, at its shape, in the order the model
    /// runs them: the audio encoder, the cross-modal branches whose modality weight is positive, and the heads whose
    /// task weight is positive (with the ASR task, the CTC head over the encoder's frames when the config gives CTC a
    /// share). The ASR decoder runs with teacher forcing on Characters + 1 positions (start symbol +
    /// characters, as <see cref="Targets.AsrPairs"/> builds them). Each Linear is one product over all the rows it
    /// sees; QKᵀ and AV are one product per item and head.
    /// </summary>
    public static IReadOnlyList<MatrixProduct> MultiTaskProducts(ModelConfig config, BatchShape shape)
    {
        config.Validate();
        long b = shape.Batch,
            ta = shape.AudioSteps,
            d = config.DModel,
            f = config.FeedForward,
            heads = config.Heads;
        var products = new List<MatrixProduct>();
        void Linear(string part, string name, long rows, long inDim, long outDim, bool onData = false) =>
            products.Add(new MatrixProduct(part, name, 1, rows, inDim, outDim, onData));
        void AttentionBlock(string part, string name, long queries, long keys)
        {
            Linear(part, $"{name} q", b * queries, d, d);
            Linear(part, $"{name} k", b * keys, d, d);
            Linear(part, $"{name} v", b * keys, d, d);
            products.Add(new MatrixProduct(part, $"{name} QKᵀ", b * heads, queries, d / heads, keys));
            products.Add(new MatrixProduct(part, $"{name} AV", b * heads, queries, keys, d / heads));
            Linear(part, $"{name} out", b * queries, d, d);
        }
        void FeedForwardBlock(string part, long rows)
        {
            Linear(part, "feed-forward in", rows, d, f);
            Linear(part, "feed-forward out", rows, f, d);
        }
        const string audio = "audio encoder";
        Linear(audio, "input projection", b * ta, config.AudioDim, d, onData: true);
        for (int i = 0; i < config.AudioLayers; i++)
        {
            AttentionBlock(audio, "self-attention", ta, ta);
            FeedForwardBlock(audio, b * ta);
        }
        void CrossModal(string part, long sourceSteps, long sourceDim)
        {
            Linear(part, "source projection", b * sourceSteps, sourceDim, d, onData: true);
            for (int i = 0; i < config.CrossModalLayers; i++)
            {
                AttentionBlock(part, "cross-attention", ta, sourceSteps);
                FeedForwardBlock(part, b * ta);
            }
        }
        if (config.Modalities.Video > 0)
        {
            CrossModal("video→audio transformer", shape.VideoFrames, config.VideoDim);
        }
        if (config.Modalities.Text > 0)
        {
            CrossModal("text→audio transformer", shape.Words, config.TextDim);
        }
        if (config.Tasks.Asr > 0)
        {
            const string asr = "ASR decoder";
            long l = shape.Characters + 1;
            for (int i = 0; i < config.DecoderLayers; i++)
            {
                AttentionBlock(asr, "self-attention", l, l);
                AttentionBlock(asr, "cross-attention", l, ta);
                FeedForwardBlock(asr, b * l);
            }
            Linear(asr, "output layer", b * l, d, config.VocabSize);
            if (config.CtcWeight > 0)
            {
                Linear("CTC head", "affine", b * ta, d, MultiTaskModel.CtcOutputsPerFrame * config.VocabSize);
            }
        }
        if (config.Tasks.Speaker > 0)
        {
            Linear("speaker head", "affine", b, d, config.Speakers);
        }
        if (config.Tasks.Emotion > 0)
        {
            Linear("emotion head", "affine", b, d, config.Emotions);
        }
        return products;
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
