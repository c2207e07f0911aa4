using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Research.Model.Modules;

/// <summary>
/// Multi-head scaled dot-product attention, softmax(QKᵀ/√d_head)V, with queries and keys/values from
/// possibly different sequences (self- or cross-modal attention).
/// forward(query (B, Tq, D), memory (B, Tk, D), attend (bool, broadcastable to (B, 1, Tq, Tk), true = attend)) → (B, Tq, D).
/// </summary>
public sealed class MultiHeadAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    readonly Linear q_proj;
    readonly Linear k_proj;
    readonly Linear v_proj;
    readonly Linear out_proj;
    readonly ParallelDropout weights_dropout;
    readonly long heads;
    readonly double dropout;

    public MultiHeadAttention(string name, long dModel, long heads, double dropout)
        : base(name)
    {
        if (dModel % heads != 0)
        {
            throw new ArgumentException($"{name}: dModel {dModel} not divisible by {heads} heads");
        }
        this.heads = heads;
        this.dropout = dropout;
        q_proj = nn.Linear(dModel, dModel);
        k_proj = nn.Linear(dModel, dModel);
        v_proj = nn.Linear(dModel, dModel);
        out_proj = nn.Linear(dModel, dModel);
        weights_dropout = new ParallelDropout("weights_dropout", dropout);
        RegisterComponents();
    }

    /// <summary>
    /// Whether projections that read the same input run as one matrix product: q, k and v of self-attention (query
    /// and memory the same tensor) as one product with the weights of q_proj, k_proj and v_proj stacked (D → 3D), k
    /// and v of cross-attention as one (D → 2D). The parameters, their names and the numbers (up to rounding) are the
    /// same either way. Off by default: the profile's largest item is these projections, already at the matmul
    /// ceiling, and fusing them measured no faster on this CPU (BENCHMARKS.md, profile, measures both in one run).
    /// </summary>
    public bool FuseProjections { get; set; }

    /// <summary>The number of heads.</summary>
    public long Heads => heads;

    /// <summary>The dropout probability on the attention weights in training.</summary>
    public double WeightsDropout => dropout;

    /// <summary>The projections q, k, v and out, in that order (for <see cref="FusedSublayers"/>).</summary>
    internal Linear[] Projections => [q_proj, k_proj, v_proj, out_proj];

    /// <summary>Whether this block's ops can run inside a fused sublayer: it has no option that asks for the ops as written.</summary>
    internal bool Fusable => !FuseProjections && !weights_dropout.UseTorchDropout;

    public override Tensor forward(Tensor query, Tensor memory, Tensor attend)
    {
        var (q, k, v) = Project(query, memory);
        Tensor o; // (B, H, Tq, dh)
        if (training && dropout > 0 && !weights_dropout.UseTorchDropout)
        {
            // Written out so that the weights' dropout draws its mask in parallel (ParallelDropout). With dropout,
            // scaled_dot_product_attention computes the same unfused way on the CPU (its fused kernel takes no dropout).
            var scores = matmul(q, k.transpose(-2, -1)).div_(Math.Sqrt(q.shape[3]));
            if (Masks.UseMaskedFill)
            {
                scores = scores.masked_fill_(attend.logical_not(), double.NegativeInfinity);
            }
            else
            {
                scores = scores.add_(Masks.Additive(attend));
            }
            o = matmul(weights_dropout.forward(scores.softmax(-1)), v);
        }
        else
        {
            o = F.scaled_dot_product_attention(q, k, v, attend, training ? dropout : 0.0, false);
        }
        return out_proj.forward(Merge(o, query.shape));
    }

    /// <summary>Attention weights (B, H, Tq, Tk) for inspection and plots; not used in training.</summary>
    public Tensor Weights(Tensor query, Tensor memory, Tensor attend)
    {
        var (q, k, _) = Project(query, memory);
        var scores = matmul(q, k.transpose(-2, -1)) / Math.Sqrt(q.shape[3]);
        return scores.masked_fill(attend.logical_not(), double.NegativeInfinity).softmax(-1);
    }

    (Tensor q, Tensor k, Tensor v) Project(Tensor query, Tensor memory)
    {
        long b = query.shape[0],
            tq = query.shape[1],
            tk = memory.shape[1],
            d = query.shape[2];
        long dh = d / heads;
        if (FuseProjections && ReferenceEquals(query, memory))
        {
            var qkv = Stacked(query, q_proj, k_proj, v_proj).view(b, tq, 3, heads, dh).permute(2, 0, 3, 1, 4); // (3, B, H, T, dh)
            return (qkv[0], qkv[1], qkv[2]);
        }
        var q = q_proj.forward(query).view(b, tq, heads, dh).transpose(1, 2); // (B, H, Tq, dh)
        if (FuseProjections)
        {
            var kv = Stacked(memory, k_proj, v_proj).view(b, tk, 2, heads, dh).permute(2, 0, 3, 1, 4); // (2, B, H, Tk, dh)
            return (q, kv[0], kv[1]);
        }
        var k = k_proj.forward(memory).view(b, tk, heads, dh).transpose(1, 2);
        var v = v_proj.forward(memory).view(b, tk, heads, dh).transpose(1, 2);
        return (q, k, v);
    }

    /// <summary>x (B, T, D) through several Linear(D, D) at once: (B, T, n·D), the layers' outputs side by side.</summary>
    static Tensor Stacked(Tensor x, params Linear[] layers) =>
        F.linear(x, cat(layers.Select(l => (Tensor)l.weight!).ToArray(), 0), cat(layers.Select(l => (Tensor)l.bias!).ToArray(), 0));

    static Tensor Merge(Tensor o, long[] queryShape) => o.transpose(1, 2).reshape(queryShape[0], queryShape[1], queryShape[2]);
}
