using System.Text.Json;
using Research.Model.Audio;
using Research.Model.Text;

namespace Research.Model.Data;

/// <summary>
/// How raw media become the model's inputs (paper §4.1): 40 LFBE every 10 ms, normalised per utterance and
/// 5 frames stacked (200-d every 50 ms); per-frame visual features; GloVe vectors of the transcript's tokens.
/// </summary>
public sealed record FrontEndOptions
{
    /// <summary>Kaldi filter-bank settings (40 mel bins, 25 ms windows every 10 ms).</summary>
    public FbankOptions Fbank { get; init; } = new();

    /// <summary>Frames stacked into one input step (paper: 5, giving 200-d every 50 ms).</summary>
    public int Stack { get; init; } = 5;

    /// <summary>
    /// Mean/variance normalisation of each utterance's filter-bank energies before stacking. The paper does not
    /// say; per-utterance normalisation needs no corpus statistics and removes channel and loudness offsets.
    /// </summary>
    public bool UtteranceCmvn { get; init; } = true;

    /// <summary>Video frames per second to extract (VoxCeleb2 videos are 25/s; the demo renders 10/s).</summary>
    public double VideoFps { get; init; } = 25;

    /// <summary>Side of the grey-level visual feature when no VGG-16 weights are given (64 → 4096-d; the demo uses 32).</summary>
    public int VisualSide { get; init; } = 64;

    /// <summary>VGG-16 weights in TorchSharp's format (see README): when set, frames give fc7 features instead.</summary>
    public string? Vgg16Weights { get; init; }

    /// <summary>Word vectors in GloVe's text format (required for the text modality).</summary>
    public string WordVectors { get; init; } = "";

    /// <summary>Lower-case tokens before looking them up (GloVe 6B/42B are uncased; 840B is cased).</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>All settings as one string: part of every cached item's fingerprint.</summary>
    public string Describe() => JsonSerializer.Serialize(this);
}
