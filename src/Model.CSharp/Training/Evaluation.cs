using Research.Model.Models;
using Research.Model.Runtime;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>Levenshtein distance between character sequences.</summary>
public static class EditDistance
{
    /// <summary>Insertions + deletions + substitutions turning <paramref name="hypothesis"/> into <paramref name="reference"/>.</summary>
    public static int Between(IReadOnlyList<long> reference, IReadOnlyList<long> hypothesis)
    {
        var previous = Enumerable.Range(0, hypothesis.Count + 1).ToArray();
        var current = new int[hypothesis.Count + 1];
        for (int i = 1; i <= reference.Count; i++)
        {
            current[0] = i;
            for (int j = 1; j <= hypothesis.Count; j++)
            {
                int substitution = previous[j - 1] + (reference[i - 1] == hypothesis[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[hypothesis.Count];
    }
}

/// <summary>Held-out evaluation of pre-training and scoring of emotion models, returning plain numbers.</summary>
public static class Evaluation
{
    /// <summary>
    /// On held-out utterances: character error rate of greedy decoding (edit distance / reference characters),
    /// speaker accuracy, and the loss terms (teacher forcing). Keys: cer (only with an ASR head), speaker_accuracy (only
    /// with a speaker head), loss, asr_loss, speaker_loss.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Pretraining(
        MultiTaskModel model,
        MultiTaskCriterion criterion,
        PretrainingData data,
        Device device,
        int batchSize
    )
    {
        using var mode = EvaluationMode.Enter(model);
        using var _ = no_grad();
        long edits = 0,
            characters = 0,
            correct = 0;
        double loss = 0,
            asr = 0,
            speaker = 0;
        int maxLength = Enumerable.Range(0, data.Count).Max(i => data.Transcript(i).Length) + 10;
        // Items in order of audio length, so that a batch pads little; greedy decoding is per item, so the metrics do
        // not depend on the batching (up to float rounding).
        var order = Enumerable.Range(0, data.Count).OrderBy(i => data.Lengths[i]).ThenBy(i => i).ToArray();
        for (int first = 0; first < data.Count; first += batchSize)
        {
            int start = first;
            CollectionGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                var items = order[start..Math.Min(start + batchSize, data.Count)];
                var (input, targets) = data.Batch(items, device);
                var output = model.forward(input, targets.AsrInput);
                var terms = criterion.Compute(output, targets);
                loss += terms.Total.item<float>() * items.Length;
                asr += (terms.Asr?.item<float>() ?? 0) * items.Length;
                speaker += (terms.Speaker?.item<float>() ?? 0) * items.Length;
                if (output.SpeakerLogits is not null)
                {
                    var predicted = output.SpeakerLogits.argmax(-1).cpu().data<long>().ToArray();
                    correct += items.Where((item, k) => predicted[k] == data.Speaker(item)).Count();
                }
                if (model.Asr is not null)
                {
                    var hypotheses = model.Asr.Greedy(output.Encoder!.Fused, output.Encoder.Padding, maxLength);
                    for (int k = 0; k < items.Length; k++)
                    {
                        var reference = data.Transcript(items[k]).Select(c => (long)c).ToArray();
                        edits += EditDistance.Between(reference, hypotheses[k]);
                        characters += reference.Length;
                    }
                }
            });
        }
        var metrics = new Dictionary<string, double>();
        // A task with weight 0 has no head: its metric is left out rather than given as NaN or a meaningless 0
        // (metrics.json must stay valid JSON; the task-weight sweep's 1/0 and 0/1 points pre-train one task only).
        if (model.Asr is not null && characters > 0)
        {
            metrics["cer"] = (double)edits / characters;
        }
        if (model.Config.Tasks.Speaker > 0)
        {
            metrics["speaker_accuracy"] = (double)correct / data.Count;
        }
        metrics["loss"] = loss / data.Count;
        metrics["asr_loss"] = asr / data.Count;
        metrics["speaker_loss"] = speaker / data.Count;
        return metrics;
    }

    /// <summary>Emotion probabilities (sigmoid of the logits), one row of 6 per item, in item order.</summary>
    public static float[][] EmotionProbabilities(
        nn.Module model,
        Func<EncoderInput, Tensor> logits,
        IBatchSource data,
        Device device,
        int batchSize
    )
    {
        using var mode = EvaluationMode.Enter(model);
        using var _ = no_grad();
        var result = new float[data.Count][];
        // Items in order of audio length, so that a batch pads little (the late-fusion recurrence and attention run to
        // a batch's longest item): about half the time of item order on the demo's dev split. Each item's
        // probabilities do not depend on the batching (identical there, bit for bit).
        var order = Enumerable.Range(0, data.Count).OrderBy(i => data.Lengths[i]).ThenBy(i => i).ToArray();
        for (int first = 0; first < data.Count; first += batchSize)
        {
            int start = first;
            CollectionGuard.Run(() =>
            {
                using var scope = NewDisposeScope();
                var items = order[start..Math.Min(start + batchSize, data.Count)];
                var (input, _) = data.Batch(items, device);
                var p = logits(input).sigmoid().cpu().data<float>().ToArray();
                for (int k = 0; k < items.Length; k++)
                {
                    result[items[k]] = p.Skip(6 * k).Take(6).ToArray();
                }
            });
        }
        return result;
    }
}
