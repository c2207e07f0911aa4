using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Sequence classifier: mean of the fused encoder output over valid frames, then one affine layer.
/// The speaker head is this (paper §3: "average the embeddings over a given sequence and use an affine
/// transformation"); the emotion head is the same, since §4.1 only says the encoder output "goes to a linear
/// classification layer" and the mean over frames is the pooling the paper already uses.
/// forward(fused (B, T, D), padding (B, T)) → logits (B, classes).
/// </summary>
public sealed class PooledClassifier : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Linear affine;

    public PooledClassifier(string name, long dModel, long classes)
        : base(name)
    {
        affine = nn.Linear(dModel, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor fused, Tensor padding) => affine.forward(Pooling.MaskedMean(fused, padding));
}
