using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>Position-wise feed-forward block: Linear(D, F) → ReLU → dropout → Linear(F, D). (B, T, D) → (B, T, D).</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    readonly Linear w1;
    readonly Linear w2;
    readonly ParallelDropout dropout;

    public FeedForward(string name, long dModel, long inner, double dropout)
        : base(name)
    {
        w1 = nn.Linear(dModel, inner);
        w2 = nn.Linear(inner, dModel);
        this.dropout = new ParallelDropout("dropout", dropout);
        RegisterComponents();
    }

    /// <summary>The dropout probability on the inner activations in training.</summary>
    public double InnerDropout => dropout.P;

    /// <summary>w1 (D → F) and w2 (F → D) (for <see cref="FusedSublayers"/>).</summary>
    internal (Linear w1, Linear w2) Layers => (w1, w2);

    /// <summary>Whether this block's ops can run inside a fused sublayer (its dropout is not libtorch's).</summary>
    internal bool Fusable => !dropout.UseTorchDropout;

    public override Tensor forward(Tensor x) => w2.forward(dropout.forward(nn.functional.relu(w1.forward(x))));
}
