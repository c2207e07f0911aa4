using Research.Model.Models;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// The joint encoder of Figure 1: an audio encoder, a video→audio and a text→audio cross-modal transformer
/// (queried by the audio encoder's output), and a weighted sum of the three streams. A branch is built only
/// when its modality weight in the config is positive; <see cref="Weights"/> may be changed afterwards (the
/// paper's inference-time ablations), and a stream whose weight is 0 is not computed and may have no input.
/// forward(input) → fused (B, Ta, D) with the audio padding.
/// </summary>
public sealed class MultimodalEncoder : nn.Module<EncoderInput, EncoderOutput>
{
    readonly AudioEncoder audio;
    readonly CrossModalTransformer? video;
    readonly CrossModalTransformer? text;
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
        RegisterComponents();
    }

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
        var a = audio.forward(input.Audio.Features, input.Audio.Padding);
        var v =
            video is not null && input.Video is not null
                ? video.AttentionMaps(a, input.Audio.Padding, input.Video.Features, input.Video.Padding)
                : null;
        var t =
            text is not null && input.Text is not null
                ? text.AttentionMaps(a, input.Audio.Padding, input.Text.Features, input.Text.Padding)
                : null;
        return new CrossModalAttention(v, t);
    }

    public override EncoderOutput forward(EncoderInput input)
    {
        var a = audio.forward(input.Audio.Features, input.Audio.Padding);
        var fused = a * weights.Audio;
        Tensor? v = null,
            t = null;
        if (weights.Video > 0)
        {
            var src = input.Video ?? throw new ArgumentException($"video weight is {weights.Video} but the batch has no video");
            v = video!.forward(a, input.Audio.Padding, src.Features, src.Padding);
            fused = fused + v * weights.Video;
        }
        if (weights.Text > 0)
        {
            var src = input.Text ?? throw new ArgumentException($"text weight is {weights.Text} but the batch has no text");
            t = text!.forward(a, input.Audio.Padding, src.Features, src.Padding);
            fused = fused + t * weights.Text;
        }
        return new EncoderOutput(fused, input.Audio.Padding, a, v, t);
    }
}
