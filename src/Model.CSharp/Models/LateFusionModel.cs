using Research.Model.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Models;

/// <summary>
/// The late-fusion baseline of paper §4.1: "a 2-layer bidirectional-GRU model with 200 nodes for each modality. The
/// output from the last time step from each modality is then concatenated and a linear layer of size 100 is used for
/// classification". Defaults are the paper's; where it is silent the default says what we chose and why.
/// </summary>
public sealed record LateFusionConfig
{
    /// <summary>Stacked LFBE per step (§4.1): 200, as the transformer's audio input.</summary>
    public int AudioDim { get; init; } = 200;

    /// <summary>VGG-16 fc7 per frame (§4.1): 4096.</summary>
    public int VideoDim { get; init; } = 4096;

    /// <summary>GloVe per word (§4.1): 300.</summary>
    public int TextDim { get; init; } = 300;

    /// <summary>GRU units per direction (§4.1: "200 nodes"): 200, so each modality gives 400 values.</summary>
    public int Hidden { get; init; } = 200;

    /// <summary>GRU layers per modality (§4.1): 2.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>The fused hidden layer (§4.1: "a linear layer of size 100"): 100.</summary>
    public int FusionDim { get; init; } = 100;

    /// <summary>Emotions of CMU-MOSEI (§4.1): 6, scored with binary cross-entropy.</summary>
    public int Emotions { get; init; } = 6;

    /// <summary>
    /// Dropout between the two GRU layers and on the fused hidden layer. The paper gives none; 0.1 is the
    /// transformer's value (<see cref="ModelConfig.Dropout"/>), so the two models differ in architecture only.
    /// </summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Whether the audio GRU is built and read (false: its input is ignored and may be null).</summary>
    public bool UseAudio { get; init; } = true;

    /// <summary>Whether the video GRU is built and read (false: its input is ignored and may be null).</summary>
    public bool UseVideo { get; init; } = true;

    /// <summary>Whether the text GRU is built and read (false: its input is ignored and may be null).</summary>
    public bool UseText { get; init; } = true;

    /// <summary>The paper's configuration.</summary>
    public static LateFusionConfig Paper => new();

    /// <summary>Modalities in use.</summary>
    public int ModalityCount => (UseAudio ? 1 : 0) + (UseVideo ? 1 : 0) + (UseText ? 1 : 0);

    /// <summary>Throws, naming the field, unless every size is positive, dropout is in [0, 1) and a modality is used.</summary>
    public void Validate()
    {
        foreach (
            var (name, v) in new[]
            {
                ("AudioDim", AudioDim),
                ("VideoDim", VideoDim),
                ("TextDim", TextDim),
                ("Hidden", Hidden),
                ("Layers", Layers),
                ("FusionDim", FusionDim),
                ("Emotions", Emotions),
            }
        )
        {
            if (v <= 0)
            {
                throw new ArgumentOutOfRangeException(name, v, $"{name} must be positive");
            }
        }
        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1)");
        }
        if (ModalityCount == 0)
        {
            throw new ArgumentException("the late-fusion model needs at least one modality (UseAudio, UseVideo, UseText all false)");
        }
    }
}

/// <summary>
/// Late-fusion baseline (paper §4.1). Per modality a bidirectional GRU summarised at "the last time step" (see
/// <see cref="BiGruEncoder"/>: forward state at each item's last valid step, backward state at step 0); the
/// summaries are concatenated (3 × 2·Hidden = 1200) → Linear(1200, FusionDim) → ReLU → dropout →
/// Linear(FusionDim, Emotions). The paper names only "a linear layer of size 100 ... for classification"; a size-100
/// layer followed by the 6 outputs needs a second affine map, and without a non-linearity between them the two
/// would collapse into one rank-100 linear map, so we put ReLU (and the model's dropout) between them.
/// forward(input) → emotion logits (B, Emotions), for binary cross-entropy per emotion.
/// A modality whose input is null is an error unless the config does not use it.
/// </summary>
public sealed class LateFusionModel : nn.Module<EncoderInput, Tensor>, ITaskModel
{
    readonly BiGruEncoder? audio;
    readonly BiGruEncoder? video;
    readonly BiGruEncoder? text;
    readonly Linear fusion;
    readonly Dropout dropout;
    readonly Linear output;

    public LateFusionModel(LateFusionConfig config, string name = "late_fusion")
        : base(name)
    {
        config.Validate();
        Config = config;
        if (config.UseAudio)
        {
            audio = new BiGruEncoder("audio", "audio", config.AudioDim, config.Hidden, config.Layers, config.Dropout);
        }
        if (config.UseVideo)
        {
            video = new BiGruEncoder("video", "video", config.VideoDim, config.Hidden, config.Layers, config.Dropout);
        }
        if (config.UseText)
        {
            text = new BiGruEncoder("text", "text", config.TextDim, config.Hidden, config.Layers, config.Dropout);
        }
        fusion = nn.Linear(config.ModalityCount * 2L * config.Hidden, config.FusionDim);
        dropout = nn.Dropout(config.Dropout);
        output = nn.Linear(config.FusionDim, config.Emotions);
        RegisterComponents();
    }

    /// <summary>The configuration the model was built from.</summary>
    public LateFusionConfig Config { get; }

    /// <summary>
    /// Run each modality's GRU through libtorch's packed GRU, one after another (the behaviour before
    /// <see cref="StreamedBiGru"/>; the same function, the benchmark measures both in one run). Off by default: the
    /// modalities run as one streamed recurrence.
    /// </summary>
    public bool UseTorchGru { get; set; }

    public override Tensor forward(EncoderInput input)
    {
        var used = new List<(BiGruEncoder encoder, Sequence sequence)>(3);
        if (audio is not null)
        {
            used.Add((audio, input.Audio ?? throw new ArgumentException("the late-fusion model uses audio but the batch has no audio")));
        }
        if (video is not null)
        {
            used.Add((video, input.Video ?? throw new ArgumentException("the late-fusion model uses video but the batch has no video")));
        }
        if (text is not null)
        {
            used.Add((text, input.Text ?? throw new ArgumentException("the late-fusion model uses text but the batch has no text")));
        }
        Tensor[] summaries; // (B, 2H) per modality
        if (UseTorchGru)
        {
            summaries = used.Select(u => u.encoder.forward(u.sequence.Features, u.sequence.Padding)).ToArray();
        }
        else
        {
            var checkedInputs = used.Select(u => u.encoder.Checked(u.sequence.Features, u.sequence.Padding)).ToList();
            summaries = StreamedBiGru.Summaries(checkedInputs, Config.Hidden, Config.Layers, used[0].encoder.Dropout, training);
        }
        var fused = cat(summaries, 1); // (B, modalities·2H)
        var hidden = dropout.forward(nn.functional.relu(fusion.forward(fused))); // (B, FusionDim)
        return output.forward(hidden); // (B, Emotions)
    }

    /// <summary>Emotion logits only: no encoder sequence, no ASR or speaker heads.</summary>
    ModelOutput ITaskModel.Forward(EncoderInput input, Tensor? asrInput) => new(null, null, null, forward(input));

    /// <inheritdoc cref="ITaskModel.EmotionLogits"/>
    public Tensor EmotionLogits(EncoderInput input) => forward(input);
}
