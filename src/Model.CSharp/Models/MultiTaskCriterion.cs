using Research.Model.Text;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Research.Model.Models;

/// <summary>The weighted total and every term of the multi-task loss; a term is null when its weight is 0.</summary>
public sealed record LossTerms(Tensor Total, Tensor? Asr, Tensor? Speaker, Tensor? Emotion);

/// <summary>
/// One process's share of a global batch's normalisers in data-parallel training: its ASR target tokens over the
/// global batch's (for the token-averaged cross-entropy) and its items over the global batch's (for the item-averaged
/// terms: CTC, speaker, emotion). Each term is scaled by its share, so the sum over processes of the scaled losses (and
/// of their gradients) is the loss (and gradient) of the whole batch in one process.
/// </summary>
public sealed record LossShares(double Tokens, double Items)
{
    /// <summary>The whole batch (one process).</summary>
    public static readonly LossShares Whole = new(1.0, 1.0);
}

/// <summary>
/// total = w_asr · CE(characters, label smoothing, pads ignored) + w_spk · CE(speaker) + w_emo · BCE(emotions, per-class positive weights).
/// Weights come from <see cref="TaskWeights"/>; a task with weight 0 is not computed.
/// </summary>
public sealed class MultiTaskCriterion
{
    readonly TaskWeights weights;
    readonly double labelSmoothing;
    readonly Tensor? emotionPositiveWeights;
    readonly double ctcWeight;

    /// <param name="weights">task weights (paper: ASR 0.8, speaker 0.2)</param>
    /// <param name="labelSmoothing">ASR label smoothing</param>
    /// <param name="emotionPositiveWeights">(E) weight of the positive class per emotion (imbalance), or null</param>
    /// <param name="ctcWeight">share of the ASR term given to CTC (<see cref="ModelConfig.CtcWeight"/>)</param>
    public MultiTaskCriterion(
        TaskWeights weights,
        double labelSmoothing = 0.0,
        Tensor? emotionPositiveWeights = null,
        double ctcWeight = 0.0
    )
    {
        weights.Validate();
        if (!(ctcWeight >= 0 && ctcWeight <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ctcWeight), ctcWeight, "the CTC share must be in [0, 1]");
        }
        this.weights = weights;
        this.labelSmoothing = labelSmoothing;
        this.emotionPositiveWeights = emotionPositiveWeights;
        this.ctcWeight = ctcWeight;
    }

    /// <summary>The criterion of a model configuration (its task weights, label smoothing and CTC share).</summary>
    public static MultiTaskCriterion For(ModelConfig config, Tensor? emotionPositiveWeights = null) =>
        new(config.Tasks, config.LabelSmoothing, emotionPositiveWeights, config.CtcWeight);

    /// <summary>
    /// CTC of (B, k·T, C) logits (k outputs per frame of the (B, T) padding mask) against the ASR targets (characters then the end symbol, pad-filled): the end
    /// symbol is not a CTC label; the pad symbol is the blank; frames come from the encoder's padding mask.
    /// Utterances too short for their transcript contribute zero (zero_infinity).
    /// </summary>
    public static Tensor Ctc(Tensor logits, Tensor padding, Tensor asrTarget)
    {
        var logProbs = logits.log_softmax(-1).transpose(0, 1); // (T, B, C)
        long perFrame = logits.shape[1] / padding.shape[1];
        if (perFrame * padding.shape[1] != logits.shape[1])
        {
            throw new ArgumentException($"CTC: {logits.shape[1]} outputs for {padding.shape[1]} frames is not a whole number per frame");
        }
        var inputLengths = padding.logical_not().sum(1, type: ScalarType.Int64) * perFrame;
        var targetLengths = asrTarget.ne(CharVocabulary.Pad).sum(1, type: ScalarType.Int64) - 1;
        return F.ctc_loss(logProbs, asrTarget, inputLengths, targetLengths, blank: CharVocabulary.Pad, zero_infinity: true);
    }

    /// <summary>The loss of one batch, or of one process's share of a global batch when <paramref name="shares"/> is given.</summary>
    public LossTerms Compute(ModelOutput output, Targets targets, LossShares? shares = null)
    {
        shares ??= LossShares.Whole;
        Tensor? asr = null,
            speaker = null,
            emotion = null;
        var device = (output.Encoder?.Fused ?? output.AsrLogits ?? output.SpeakerLogits ?? output.EmotionLogits)?.device;
        var total = zeros(1, device: device).squeeze();
        if (weights.Asr > 0)
        {
            var logits =
                output.AsrLogits
                ?? throw new ArgumentException("ASR weight > 0 but the model produced no ASR logits (no ASR input given?)");
            var target = targets.AsrTarget ?? throw new ArgumentException("ASR weight > 0 but the batch has no ASR targets");
            asr = F.cross_entropy(
                logits.reshape(-1, logits.shape[2]),
                target.reshape(-1),
                ignore_index: CharVocabulary.Pad,
                label_smoothing: labelSmoothing
            );
            if (shares.Tokens != 1.0)
            {
                asr = asr * shares.Tokens;
            }
            if (ctcWeight > 0)
            {
                var ctcLogits =
                    output.CtcLogits
                    ?? throw new ArgumentException("CTC share > 0 but the model produced no CTC logits (built with CtcWeight 0?)");
                var ctc = Ctc(ctcLogits, output.Encoder!.Padding, target);
                if (shares.Items != 1.0)
                {
                    ctc = ctc * shares.Items;
                }
                asr = asr * (1 - ctcWeight) + ctc * ctcWeight;
            }
            total = total + asr * weights.Asr;
        }
        if (weights.Speaker > 0)
        {
            var logits = output.SpeakerLogits ?? throw new ArgumentException("speaker weight > 0 but the model has no speaker head");
            var target = targets.Speakers ?? throw new ArgumentException("speaker weight > 0 but the batch has no speaker labels");
            speaker = F.cross_entropy(logits, target);
            if (shares.Items != 1.0)
            {
                speaker = speaker * shares.Items;
            }
            total = total + speaker * weights.Speaker;
        }
        if (weights.Emotion > 0)
        {
            var logits = output.EmotionLogits ?? throw new ArgumentException("emotion weight > 0 but the model has no emotion head");
            var target = targets.Emotions ?? throw new ArgumentException("emotion weight > 0 but the batch has no emotion labels");
            emotion = F.binary_cross_entropy_with_logits(logits, target, pos_weights: emotionPositiveWeights);
            if (shares.Items != 1.0)
            {
                emotion = emotion * shares.Items;
            }
            total = total + emotion * weights.Emotion;
        }
        return new LossTerms(total, asr, speaker, emotion);
    }
}
