using System;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Research.Model;

/// <summary>The weighted total and every term of the multi-task loss; a term is null when its weight is 0.</summary>
public sealed record LossTerms(Tensor Total, Tensor? Asr, Tensor? Speaker, Tensor? Emotion);

/// <summary>
/// total = w_asr · CE(characters, label smoothing, pads ignored) + w_spk · CE(speaker) + w_emo · BCE(emotions, per-class positive weights).
/// Weights come from <see cref="TaskWeights"/>; a task with weight 0 is not computed.
/// </summary>
public sealed class MultiTaskCriterion
{
    readonly TaskWeights weights;
    readonly double labelSmoothing;
    readonly Tensor? emotionPositiveWeights;

    /// <param name="weights">task weights (paper: ASR 0.8, speaker 0.2)</param>
    /// <param name="labelSmoothing">ASR label smoothing</param>
    /// <param name="emotionPositiveWeights">(E) weight of the positive class per emotion (imbalance), or null</param>
    public MultiTaskCriterion(TaskWeights weights, double labelSmoothing = 0.0, Tensor? emotionPositiveWeights = null)
    {
        weights.Validate();
        this.weights = weights;
        this.labelSmoothing = labelSmoothing;
        this.emotionPositiveWeights = emotionPositiveWeights;
    }

    /// <summary>The loss of one batch.</summary>
    public LossTerms Compute(ModelOutput output, Targets targets)
    {
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
            total = total + asr * weights.Asr;
        }
        if (weights.Speaker > 0)
        {
            var logits = output.SpeakerLogits ?? throw new ArgumentException("speaker weight > 0 but the model has no speaker head");
            var target = targets.Speakers ?? throw new ArgumentException("speaker weight > 0 but the batch has no speaker labels");
            speaker = F.cross_entropy(logits, target);
            total = total + speaker * weights.Speaker;
        }
        if (weights.Emotion > 0)
        {
            var logits = output.EmotionLogits ?? throw new ArgumentException("emotion weight > 0 but the model has no emotion head");
            var target = targets.Emotions ?? throw new ArgumentException("emotion weight > 0 but the batch has no emotion labels");
            emotion = F.binary_cross_entropy_with_logits(logits, target, pos_weights: emotionPositiveWeights);
            total = total + emotion * weights.Emotion;
        }
        return new LossTerms(total, asr, speaker, emotion);
    }
}
