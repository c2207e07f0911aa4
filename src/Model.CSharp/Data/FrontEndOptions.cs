using System.Text.Json;
using System.Text.Json.Serialization;
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
    /// Mean/variance normalisation of the filter-bank energies before stacking. The paper does not say; the default,
    /// per utterance, needs no corpus statistics and removes channel and loudness offsets. <see cref="CmvnMode.Global"/>
    /// normalises by <see cref="GlobalCmvn"/>, statistics of the training split.
    /// </summary>
    [JsonIgnore]
    public CmvnMode Cmvn { get; init; } = CmvnMode.Utterance;

    /// <summary>
    /// Whether <see cref="Cmvn"/> is per utterance: what <see cref="Describe"/> has always said about CMVN, kept so
    /// that stores built before <see cref="Cmvn"/> existed keep their fingerprints (and are not recomputed).
    /// </summary>
    public bool UtteranceCmvn => Cmvn == CmvnMode.Utterance;

    /// <summary>
    /// The statistics applied under <see cref="CmvnMode.Global"/> (e.g. <c>cmvn.json</c> of a store built with global
    /// CMVN); <see cref="CorpusFeatures.BuildPretraining"/> computes them on the training split when they are null.
    /// Their <see cref="CmvnStats.Fingerprint"/> is part of <see cref="Describe"/>.
    /// </summary>
    [JsonIgnore]
    public CmvnStats? GlobalCmvn { get; init; }

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
    public string Describe() =>
        JsonSerializer.Serialize(this) + (Cmvn == CmvnMode.Global ? $"\nglobal cmvn {GlobalStats().Fingerprint()}" : "");

    /// <summary>The global statistics; an error when <see cref="Cmvn"/> is Global and they are not set.</summary>
    public CmvnStats GlobalStats() =>
        GlobalCmvn
        ?? throw new InvalidOperationException(
            "FrontEndOptions.Cmvn is Global but GlobalCmvn is not set: compute the statistics on the training split first"
        );
}
