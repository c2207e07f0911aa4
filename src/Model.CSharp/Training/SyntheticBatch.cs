using Research.Model.Models;
using Research.Model.Modules;
using Research.Model.Text;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>Shape of a generated batch (the paper's: 8 items, ~8 s of speech, 200 video frames, 20 words).</summary>
public sealed record BatchShape(int Batch = 8, int AudioSteps = 160, int VideoFrames = 200, int Words = 20, int Characters = 100);

/// <summary>
/// Random batches of a given shape for smoke runs and step-time measurements: Gaussian features, random
/// transcripts and labels, lengths varied per item (the last item is 3/4 long) so padding is exercised.
/// Not a corpus: nothing here can be learned beyond memorisation.
/// </summary>
public static class SyntheticBatch
{
    /// <summary>Valid steps per item of a generated batch: every item is <paramref name="max"/> long but the last, 3/4 of it.</summary>
    public static long[] ItemLengths(int batch, int max) =>
        Enumerable.Range(0, batch).Select(i => i == batch - 1 ? Math.Max(1L, 3L * max / 4) : max).ToArray();

    /// <summary>An encoder input and targets for every task of <paramref name="config"/>, on <paramref name="device"/>.</summary>
    public static (EncoderInput input, Targets targets) Create(ModelConfig config, BatchShape shape, int seed, Device device)
    {
        var rng = new Random(seed);
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        long[] Lengths(int max) => ItemLengths(shape.Batch, max);
        Sequence Make(int max, int dim)
        {
            var lengths = Lengths(max);
            var features = randn([shape.Batch, max, dim], generator: gen);
            return new Sequence(features.to(device), Masks.PaddingFromLengths(lengths, max, device));
        }
        var input = new EncoderInput(
            Make(shape.AudioSteps, config.AudioDim),
            Make(shape.VideoFrames, config.VideoDim),
            Make(shape.Words, config.TextDim)
        );
        var transcripts = Lengths(shape.Characters)
            .Select(n => Enumerable.Range(0, (int)n).Select(_ => rng.Next(CharVocabulary.FirstCharacter, config.VocabSize)).ToArray())
            .ToArray();
        var (asrIn, asrOut) = Targets.AsrPairs(transcripts, device);
        var speakers = tensor(Enumerable.Range(0, shape.Batch).Select(_ => (long)rng.Next(config.Speakers)).ToArray(), device: device);
        var emotions = tensor(
            Enumerable.Range(0, shape.Batch * config.Emotions).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray(),
            [shape.Batch, config.Emotions],
            device: device
        );
        return (input, new Targets(asrIn, asrOut, speakers, emotions));
    }
}
