using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Models;

/// <summary>
/// What <see cref="Research.Model.Training.TrainStep"/>, <see cref="MultiTaskCriterion"/> and evaluation need from a model, so the
/// multi-task transformer and the late-fusion baseline train and evaluate through the same code.
/// <c>parameters</c> and <c>train</c> are those every TorchSharp module already has.
/// </summary>
public interface ITaskModel
{
    /// <summary>
    /// The heads' outputs for the criterion; a head the model lacks is null (the late-fusion model has no encoder
    /// sequence and only emotion logits). <paramref name="asrInput"/> feeds teacher forcing and may be null.
    /// </summary>
    ModelOutput Forward(EncoderInput input, Tensor? asrInput);

    /// <summary>Emotion logits (B, Emotions) for evaluation; throws when the model has no emotion head.</summary>
    Tensor EmotionLogits(EncoderInput input);

    /// <summary>The trainable parameters (the module's own <c>parameters</c>).</summary>
    IEnumerable<Parameter> parameters(bool recurse = true);

    /// <summary>Switches training mode (dropout) on or off (the module's own <c>train</c>).</summary>
    void train(bool train = true);

    /// <summary>
    /// Learned values worth logging with every step (name → value), or null: the multi-task transformer's learned
    /// modality weights (<c>modality_weight_audio</c>, <c>_video</c>, <c>_text</c>) when it learns them.
    /// </summary>
    IReadOnlyDictionary<string, double>? LoggedValues => null;

    /// <summary>
    /// Parameters trained at a multiple of the scheduled learning rate (their own Adam group), with that multiple;
    /// empty when every parameter follows the schedule: the multi-task transformer's learned modality logits
    /// (<see cref="ModelConfig.ModalityWeightLearningRateScale"/>).
    /// </summary>
    IReadOnlyList<(Parameter Parameter, double Scale)> ScaledParameters => [];
}
