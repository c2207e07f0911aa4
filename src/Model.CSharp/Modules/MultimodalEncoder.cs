using Research.Model.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// The joint encoder of Figure 1: an audio encoder, a video→audio and a text→audio cross-modal transformer
/// (queried by the audio encoder's output), and a weighted sum of the three streams. A branch is built only
/// when its modality weight in the config is positive; <see cref="Weights"/> may be changed afterwards (the
/// paper's inference-time ablations), and a stream whose weight is 0 is not computed and may have no input.
/// forward(input) → fused (B, Ta, D) with the audio padding.
/// Two options beyond the paper (off by default; see <see cref="ModelConfig"/>): the any-subset encoder
/// (<see cref="ModelConfig.AnySubset"/>: no audio needed; without audio the output lies on the video, else the
/// text, axis) with modality dropout, and learned fusion weights (<see cref="ModelConfig.LearnedModalityWeights"/>).
/// </summary>
public sealed class MultimodalEncoder : nn.Module<EncoderInput, EncoderOutput>
{
    readonly AudioEncoder audio;
    readonly CrossModalTransformer? video;
    readonly CrossModalTransformer? text;
    readonly LayerNorm? substitute_norm;
    readonly Parameter? modality_logits;
    readonly bool anySubset;
    readonly double modalityDropout;
    readonly bool[] configured;
    ModalityWeights weights;

    public MultimodalEncoder(string name, ModelConfig config)
        : base(name)
    {
        config.Validate();
        weights = config.Modalities;
        audio = new AudioEncoder("audio", config);
        if (config.Modalities.Video > 0)
        {
            video = new CrossModalTransformer("video", "video", config.VideoDim, config);
        }
        if (config.Modalities.Text > 0)
        {
            text = new CrossModalTransformer("text", "text", config.TextDim, config);
        }
        anySubset = config.AnySubset;
        modalityDropout = config.ModalityDropout;
        configured = [config.Modalities.Audio > 0, config.Modalities.Video > 0, config.Modalities.Text > 0];
        if (anySubset)
        {
            substitute_norm = nn.LayerNorm(config.DModel);
        }
        if (config.LearnedModalityWeights)
        {
            // log(w) for a configured stream, so softmax over the configured ones = w / Σw; 0 for the others (never read).
            var m = config.Modalities;
            var init = new[] { m.Audio, m.Video, m.Text }.Select(w => w > 0 ? (float)Math.Log(w) : 0f).ToArray();
            modality_logits = nn.Parameter(tensor(init));
        }
        RegisterComponents();
    }

    /// <summary>The fusion weights (audio, video, text) the learned logits give now, or null unless they are learned.</summary>
    public double[]? LearnedWeights
    {
        get
        {
            if (modality_logits is null)
            {
                return null;
            }
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return LearnedShares(configured).to(float64).cpu().data<double>().ToArray();
        }
    }

    /// <summary>softmax(modality_logits) over the streams in <paramref name="over"/>, 0 elsewhere: (3).</summary>
    Tensor LearnedShares(bool[] over)
    {
        var mask = tensor(over, device: modality_logits!.device).logical_not();
        return modality_logits.masked_fill(mask, double.NegativeInfinity).softmax(0);
    }

    /// <summary>The three logits of the learned fusion weights, or null unless they are learned.</summary>
    public Parameter? ModalityLogits => modality_logits;

    /// <summary>Whether this is the any-subset encoder (<see cref="ModelConfig.AnySubset"/>): it runs without audio.</summary>
    public bool AnySubset => anySubset;

    /// <summary>The audio-only encoder.</summary>
    public AudioEncoder Audio => audio;

    /// <summary>The video→audio branch, when built.</summary>
    public CrossModalTransformer? Video => video;

    /// <summary>The text→audio branch, when built.</summary>
    public CrossModalTransformer? Text => text;

    /// <summary>Stream weights used by forward. A positive weight needs its branch to have been built.</summary>
    public ModalityWeights Weights
    {
        get => weights;
        set
        {
            value.Validate();
            if (value.Video > 0 && video is null)
            {
                throw new ArgumentException($"video weight {value.Video} > 0 but this encoder was built without a video branch");
            }
            if (value.Text > 0 && text is null)
            {
                throw new ArgumentException($"text weight {value.Text} > 0 but this encoder was built without a text branch");
            }
            weights = value;
        }
    }

    /// <summary>
    /// Per-layer cross-modal attention probabilities of a batch (see <see cref="CrossModalTransformer.AttentionMaps"/>):
    /// for each branch that was built and whose input the batch has, one (B, H, Ta, Tv or Tt) tensor per layer; null
    /// for the others. The audio stream is this encoder's audio output, as in forward. A branch whose weight is 0 but
    /// that was built is still shown (its maps do not depend on the weights).
    /// </summary>
    public CrossModalAttention AttentionMaps(EncoderInput input)
    {
        var audioInput = input.Audio ?? throw new ArgumentException("attention maps need the audio stream (the query axis)");
        var a = audio.forward(audioInput.Features, audioInput.Padding);
        var v =
            video is not null && input.Video is not null
                ? video.AttentionMaps(a, audioInput.Padding, input.Video.Features, input.Video.Padding)
                : null;
        var t =
            text is not null && input.Text is not null
                ? text.AttentionMaps(a, audioInput.Padding, input.Text.Features, input.Text.Padding)
                : null;
        return new CrossModalAttention(v, t);
    }

    public override EncoderOutput forward(EncoderInput input)
    {
        if (!anySubset && modality_logits is null)
        {
            return PaperForward(input);
        }
        var present = Present(input);
        if (anySubset && training && modalityDropout > 0)
        {
            present = DropModalities(present);
        }
        // The query axis: the audio encoder's output, else (any-subset only) video's, else text's own embedding.
        Tensor? a = null;
        Tensor query,
            queryPadding;
        if (present[0] || !anySubset)
        {
            var src = input.Audio ?? throw new ArgumentException("the batch has no audio, which this encoder needs (AnySubset is off)");
            a = audio.forward(src.Features, src.Padding);
            (query, queryPadding) = (a, src.Padding);
        }
        else
        {
            var (branch, src) = present[1] ? (video!, input.Video!) : (text!, input.Text!);
            Masks.RequireNonEmpty(src.Padding, present[1] ? "video" : "text");
            query = Pooling.ZeroPadding(substitute_norm!.forward(branch.Embed(src.Features, src.Padding)), src.Padding);
            queryPadding = src.Padding;
        }
        var share = Shares(present);
        Tensor? fused = a is null ? null : Weighted(a, 0, share);
        Tensor? v = null,
            t = null;
        if (present[1])
        {
            var src = input.Video!;
            v = video!.forward(query, queryPadding, src.Features, src.Padding);
            fused = fused is null ? Weighted(v, 1, share) : fused + Weighted(v, 1, share);
        }
        if (present[2])
        {
            var src = input.Text!;
            t = text!.forward(query, queryPadding, src.Features, src.Padding);
            fused = fused is null ? Weighted(t, 2, share) : fused + Weighted(t, 2, share);
        }
        return new EncoderOutput(fused!, queryPadding, a, v, t);
    }

    /// <summary>The paper's encoder, exactly as before the options existed (both off).</summary>
    EncoderOutput PaperForward(EncoderInput input)
    {
        var audioInput = input.Audio ?? throw new ArgumentException("the batch has no audio, which this encoder needs (AnySubset is off)");
        var a = audio.forward(audioInput.Features, audioInput.Padding);
        var fused = a * weights.Audio;
        Tensor? v = null,
            t = null;
        if (weights.Video > 0)
        {
            var src = input.Video ?? throw new ArgumentException($"video weight is {weights.Video} but the batch has no video");
            v = video!.forward(a, audioInput.Padding, src.Features, src.Padding);
            fused = fused + v * weights.Video;
        }
        if (weights.Text > 0)
        {
            var src = input.Text ?? throw new ArgumentException($"text weight is {weights.Text} but the batch has no text");
            t = text!.forward(a, audioInput.Padding, src.Features, src.Padding);
            fused = fused + t * weights.Text;
        }
        return new EncoderOutput(fused, audioInput.Padding, a, v, t);
    }

    /// <summary>
    /// Which streams (audio, video, text) take part. Any-subset: a positive weight and an input; none is an error.
    /// Otherwise the paper's rule: a positive weight, whose input must be there (audio always runs: it is the query).
    /// </summary>
    bool[] Present(EncoderInput input)
    {
        double[] w = [weights.Audio, weights.Video, weights.Text];
        object?[] inputs = [input.Audio, input.Video, input.Text];
        string[] names = ["audio", "video", "text"];
        var present = new bool[3];
        for (int m = 0; m < 3; m++)
        {
            if (w[m] > 0 && inputs[m] is null && !anySubset)
            {
                throw new ArgumentException($"{names[m]} weight is {w[m]} but the batch has no {names[m]}");
            }
            present[m] = w[m] > 0 && inputs[m] is not null;
        }
        if (!present.Any(p => p))
        {
            throw new ArgumentException(
                $"no modality is present: weights {weights}, inputs audio {Has(input.Audio)}, video {Has(input.Video)}, text {Has(input.Text)}"
            );
        }
        return present;
    }

    static string Has(Sequence? s) => s is null ? "absent" : "given";

    /// <summary>Modality dropout: each present stream dropped with the configured probability, redrawn while none is left.</summary>
    bool[] DropModalities(bool[] present)
    {
        while (true)
        {
            var u = rand(3, dtype: float64).data<double>().ToArray();
            var kept = new bool[3];
            for (int m = 0; m < 3; m++)
            {
                kept[m] = present[m] && u[m] >= modalityDropout;
            }
            if (kept.Any(k => k))
            {
                return kept;
            }
        }
    }

    /// <summary>
    /// The fusion weight of each stream, as a (3) tensor when learned, else as numbers: the weights of the present
    /// streams, renormalised over them by the any-subset encoder; with learned weights and the paper's rule, the
    /// softmax over the configured streams, an ablated (weight 0) stream losing its share as in the paper's ablations.
    /// </summary>
    (double[]? Fixed, Tensor? Learned) Shares(bool[] present)
    {
        if (modality_logits is not null)
        {
            // Paper rule: the configured streams share softmax; an ablated one (weight set to 0) loses its share.
            var learned = anySubset ? LearnedShares(present) : LearnedShares(configured) * tensor(present, device: modality_logits.device);
            return (null, learned);
        }
        double[] w = [weights.Audio, weights.Video, weights.Text];
        double sum = 0;
        for (int m = 0; m < 3; m++)
        {
            sum += present[m] ? w[m] : 0;
        }
        return ([.. Enumerable.Range(0, 3).Select(m => present[m] ? w[m] / sum : 0.0)], null);
    }

    static Tensor Weighted(Tensor x, int m, (double[]? Fixed, Tensor? Learned) share) =>
        share.Learned is not null ? x * share.Learned[m] : x * share.Fixed![m];
}
