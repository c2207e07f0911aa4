using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// Puts a module in evaluation mode (dropout off) until disposed, then back in training mode if it was training:
/// <c>using var mode = EvaluationMode.Enter(model);</c>.
/// </summary>
public sealed class EvaluationMode : IDisposable
{
    readonly nn.Module module;
    readonly bool wasTraining;

    EvaluationMode(nn.Module module)
    {
        this.module = module;
        wasTraining = module.training;
        module.eval();
    }

    /// <summary>Switches <paramref name="module"/> to evaluation mode; disposing restores its previous mode.</summary>
    public static EvaluationMode Enter(nn.Module module) => new(module);

    public void Dispose()
    {
        if (wasTraining)
        {
            module.train();
        }
    }
}
