using Research.Model.Modules;
using Research.Model.Text;
using static TorchSharp.torch;

namespace Research.Model.Models;

/// <summary>One modality of a batch: features (B, T, dim) and padding (B, T) bool, true = pad.</summary>
public sealed record Sequence(Tensor Features, Tensor Padding)
{
    /// <summary>Pads variable-length (T_i, dim) float arrays into one (B, T_max, dim) batch with its mask.</summary>
    public static Sequence FromArrays(float[][,] items, Device? device = null)
    {
        if (items.Length == 0)
        {
            throw new ArgumentException("a batch needs at least one item");
        }
        long dim = items[0].GetLength(1);
        long max = 0;
        var lengths = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].GetLength(1) != dim)
            {
                throw new ArgumentException($"item {i} has dimension {items[i].GetLength(1)}, item 0 has {dim}");
            }
            lengths[i] = items[i].GetLength(0);
            max = Math.Max(max, lengths[i]);
        }
        var data = new float[items.Length * max * dim];
        for (int i = 0; i < items.Length; i++)
        {
            Buffer.BlockCopy(items[i], 0, data, (int)(i * max * dim * sizeof(float)), (int)(lengths[i] * dim * sizeof(float)));
        }
        var features = tensor(data, [items.Length, max, dim], device: device);
        return new Sequence(features, Masks.PaddingFromLengths(lengths, max, device));
    }

    /// <summary>Valid positions per item: (B) int64.</summary>
    public Tensor Lengths => Padding.logical_not().sum(1);

    /// <summary>The same sequence on another device.</summary>
    public Sequence To(Device device) => new(Features.to(device), Padding.to(device));
}

/// <summary>
/// The encoder's input. Video and text may be null when their modality weight is 0 (absent at inference); with the
/// any-subset encoder (<see cref="ModelConfig.AnySubset"/>) any of the three may be null, as long as one is given.
/// </summary>
public sealed record EncoderInput(Sequence? Audio, Sequence? Video, Sequence? Text)
{
    /// <summary>The same input on another device.</summary>
    public EncoderInput To(Device device) => new(Audio?.To(device), Video?.To(device), Text?.To(device));
}

/// <summary>
/// The encoder's output on the audio time axis: the fused sequence (B, Ta, D), its padding (B, Ta), and
/// each stream before weighting (null for a stream whose weight was 0). The any-subset encoder without audio gives
/// them on the video (else text) axis, and Audio is null.
/// </summary>
public sealed record EncoderOutput(Tensor Fused, Tensor Padding, Tensor? Audio, Tensor? Video, Tensor? Text);

/// <summary>
/// Supervision for the tasks, each null when absent. AsrInput/AsrTarget: (B, L) int64 — the start symbol
/// followed by the characters, and the characters followed by the end symbol, padded with
/// <see cref="CharVocabulary.Pad"/>. Speakers: (B) int64. Emotions: (B, 6) float, 1 = present.
/// </summary>
public sealed record Targets(Tensor? AsrInput, Tensor? AsrTarget, Tensor? Speakers, Tensor? Emotions)
{
    /// <summary>Teacher-forcing pairs from character ids: input = [SOS] + chars, target = chars + [EOS].</summary>
    public static (Tensor input, Tensor target) AsrPairs(int[][] transcripts, Device? device = null)
    {
        long max = 0;
        foreach (var t in transcripts)
        {
            max = Math.Max(max, t.Length + 1);
        }
        var input = new long[transcripts.Length * max];
        var target = new long[transcripts.Length * max];
        for (int b = 0; b < transcripts.Length; b++)
        {
            var t = transcripts[b];
            if (t.Length == 0)
            {
                throw new ArgumentException($"transcript of item {b} is empty");
            }
            input[b * max] = CharVocabulary.Sos;
            for (int i = 0; i < t.Length; i++)
            {
                input[b * max + i + 1] = t[i];
                target[b * max + i] = t[i];
            }
            target[b * max + t.Length] = CharVocabulary.Eos;
        }
        return (tensor(input, [transcripts.Length, max], device: device), tensor(target, [transcripts.Length, max], device: device));
    }

    /// <summary>The same targets on another device.</summary>
    public Targets To(Device device) => new(AsrInput?.to(device), AsrTarget?.to(device), Speakers?.to(device), Emotions?.to(device));
}

/// <summary>
/// What a model produces for the criterion; a head that was not built leaves its field null. Encoder is null for
/// a model without a fused encoder sequence (the late-fusion baseline).
/// </summary>
/// CtcLogits: (B, T, characters) on the fused encoder's time axis, when the model has a CTC head.
public sealed record ModelOutput(
    EncoderOutput? Encoder,
    Tensor? AsrLogits,
    Tensor? SpeakerLogits,
    Tensor? EmotionLogits,
    Tensor? CtcLogits = null
);
