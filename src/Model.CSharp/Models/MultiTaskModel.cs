using Research.Model.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Models;

/// <summary>
/// The multi-task transformer of Figure 1: the joint encoder plus one head per task with a positive weight
/// (ASR decoder, speaker classifier, emotion classifier). forward(input, asrInput?) → output; the ASR
/// decoder runs with teacher forcing on <c>asrInput</c> and is skipped when it is null.
/// </summary>
public sealed class MultiTaskModel : nn.Module<EncoderInput, Tensor?, ModelOutput>, ITaskModel
{
    readonly MultimodalEncoder encoder;
    readonly AsrDecoder? asr;
    readonly TorchSharp.Modules.Linear? ctc;
    readonly PooledClassifier? speaker;
    readonly PooledClassifier? emotion;

    public MultiTaskModel(ModelConfig config, string name = "multitask")
        : base(name)
    {
        config.Validate();
        Config = config;
        encoder = new MultimodalEncoder("encoder", config);
        if (config.Tasks.Asr > 0)
        {
            asr = new AsrDecoder("asr", config);
            if (config.CtcWeight > 0)
            {
                ctc = nn.Linear(config.DModel, CtcOutputsPerFrame * config.VocabSize);
            }
        }
        if (config.Tasks.Speaker > 0)
        {
            speaker = new PooledClassifier("speaker", config.DModel, config.Speakers);
        }
        if (config.Tasks.Emotion > 0)
        {
            emotion = new PooledClassifier("emotion", config.DModel, config.Emotions);
        }
        RegisterComponents();
    }

    /// <summary>
    /// CTC outputs per encoder frame. A stacked frame spans 50 ms and the demo's speech runs at about 1.2 frames per
    /// character, too tight for CTC (a repeated character needs a blank between its copies; 8 % of the demo
    /// utterances would have fewer frames than CTC needs): the CTC head emits 2 outputs per frame (25 ms each).
    /// </summary>
    public const int CtcOutputsPerFrame = 2;

    /// <summary>The configuration the model was built from.</summary>
    public ModelConfig Config { get; }

    /// <summary>The joint encoder (its weights can be changed for ablations).</summary>
    public MultimodalEncoder Encoder => encoder;

    /// <summary>Name prefix of the learned modality weights in logs and metrics (modality_weight_audio, ...).</summary>
    public const string ModalityWeightPrefix = "modality_weight_";

    /// <summary>The learned modality weights as log values (<see cref="ITaskModel.LoggedValues"/>), or null.</summary>
    public IReadOnlyDictionary<string, double>? LoggedValues =>
        encoder.LearnedWeights is { } w
            ? new Dictionary<string, double>
            {
                [ModalityWeightPrefix + "audio"] = w[0],
                [ModalityWeightPrefix + "video"] = w[1],
                [ModalityWeightPrefix + "text"] = w[2],
            }
            : null;

    /// <summary>The learned modality logits at <see cref="ModelConfig.ModalityWeightLearningRateScale"/> × the schedule.</summary>
    public IReadOnlyList<(Parameter Parameter, double Scale)> ScaledParameters =>
        encoder.ModalityLogits is { } logits ? [(logits, Config.ModalityWeightLearningRateScale)] : [];

    /// <summary>The ASR decoder, when the ASR task has a positive weight.</summary>
    public AsrDecoder? Asr => asr;

    public override ModelOutput forward(EncoderInput input, Tensor? asrInput)
    {
        var enc = encoder.forward(input);
        Tensor? asrLogits = null;
        if (asr is not null && asrInput is not null)
        {
            asrLogits = asr.forward(asrInput, enc.Fused, enc.Padding);
        }
        var speakerLogits = speaker?.forward(enc.Fused, enc.Padding);
        var emotionLogits = emotion?.forward(enc.Fused, enc.Padding);
        // (B, T, k·V) → (B, k·T, V): k CTC outputs per encoder frame.
        var ctcLogits =
            ctc is not null && asrInput is not null
                ? ctc.forward(enc.Fused).reshape(enc.Fused.shape[0], CtcOutputsPerFrame * enc.Fused.shape[1], Config.VocabSize)
                : null;
        return new ModelOutput(enc, asrLogits, speakerLogits, emotionLogits, ctcLogits);
    }

    /// <inheritdoc cref="ITaskModel.Forward"/>
    ModelOutput ITaskModel.Forward(EncoderInput input, Tensor? asrInput) => forward(input, asrInput);

    /// <summary>Emotion logits (B, Emotions) from the emotion head; the ASR decoder is not run.</summary>
    public Tensor EmotionLogits(EncoderInput input)
    {
        var head = emotion ?? throw new InvalidOperationException("this model has no emotion head (emotion task weight 0)");
        var enc = encoder.forward(input);
        return head.forward(enc.Fused, enc.Padding);
    }

    /// <summary>Greedy transcripts (character ids) for an input, in evaluation mode (the previous mode is restored); needs the ASR head.</summary>
    public long[][] Transcribe(EncoderInput input, int maxLength)
    {
        var decoder = asr ?? throw new InvalidOperationException("this model has no ASR head (ASR task weight 0)");
        using var _ = no_grad();
        bool wasTraining = training;
        eval();
        try
        {
            var enc = encoder.forward(input);
            return decoder.Greedy(enc.Fused, enc.Padding, maxLength);
        }
        finally
        {
            if (wasTraining)
            {
                train();
            }
        }
    }
}
