using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

// Layers are pre-norm (LayerNorm inside each residual branch, a final LayerNorm after the stack). The paper
// does not say; MulT [18], whose cross-modal blocks we follow, is pre-norm, and pre-norm trains stably from
// the first steps of the warm-up schedule, which matters for the short demo runs.

/// <summary>Self-attention encoder layer. forward(x (B, T, D), attend (B, 1, 1|T, T)) → (B, T, D).</summary>
public sealed class EncoderLayer : nn.Module<Tensor, Tensor, Tensor>
{
    readonly LayerNorm norm_attn;
    readonly MultiHeadAttention self_attn;
    readonly LayerNorm norm_ff;
    readonly FeedForward feed_forward;
    readonly ParallelDropout dropout;

    public EncoderLayer(string name, long dModel, long heads, long inner, double dropout)
        : base(name)
    {
        norm_attn = nn.LayerNorm(dModel);
        self_attn = new MultiHeadAttention("self_attn", dModel, heads, dropout);
        norm_ff = nn.LayerNorm(dModel);
        feed_forward = new FeedForward("feed_forward", dModel, inner, dropout);
        this.dropout = new ParallelDropout("dropout", dropout);
        RegisterComponents();
    }

    /// <summary>
    /// Whether training runs this layer as <see cref="FusedSublayers"/> (two autograd nodes with hand-written backward)
    /// instead of its modules op by op: the same numbers up to rounding, with the same dropout masks. Off by default
    /// (see <see cref="FusedSublayers"/>'s remarks); the benchmark's profile measures both in one run.
    /// </summary>
    public bool UseFusedSublayers { get; set; }

    bool Fused(Tensor x) =>
        training
        && UseFusedSublayers
        && self_attn.Fusable
        && feed_forward.Fusable
        && !dropout.UseTorchDropout
        && FusedSublayers.Applicable(x);

    public override Tensor forward(Tensor x, Tensor attend)
    {
        if (Fused(x))
        {
            x = FusedSublayers.Attention(x, null, attend, norm_attn, null, self_attn, dropout.P, FusedSublayers.Memory.Self);
            return FusedSublayers.FeedForward(x, norm_ff, feed_forward, dropout.P);
        }
        var h = norm_attn.forward(x);
        x = x + dropout.forward(self_attn.forward(h, h, attend));
        return x + dropout.forward(feed_forward.forward(norm_ff.forward(x)));
    }

    /// <summary>Self-attention weights of this layer for input x: (B, H, T, T).</summary>
    public Tensor AttentionWeights(Tensor x, Tensor attend)
    {
        var h = norm_attn.forward(x);
        return self_attn.Weights(h, h, attend);
    }
}

/// <summary>
/// Cross-modal layer (MulT): the target stream attends to a source modality, then a feed-forward block.
/// The source is normalised separately at every layer. forward(target (B, Tq, D), source (B, Ts, D), attend (B, 1, 1, Ts)) → (B, Tq, D).
/// </summary>
public sealed class CrossModalLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    readonly LayerNorm norm_query;
    readonly LayerNorm norm_source;
    readonly MultiHeadAttention cross_attn;
    readonly LayerNorm norm_ff;
    readonly FeedForward feed_forward;
    readonly ParallelDropout dropout;

    public CrossModalLayer(string name, long dModel, long heads, long inner, double dropout)
        : base(name)
    {
        norm_query = nn.LayerNorm(dModel);
        norm_source = nn.LayerNorm(dModel);
        cross_attn = new MultiHeadAttention("cross_attn", dModel, heads, dropout);
        norm_ff = nn.LayerNorm(dModel);
        feed_forward = new FeedForward("feed_forward", dModel, inner, dropout);
        this.dropout = new ParallelDropout("dropout", dropout);
        RegisterComponents();
    }

    /// <inheritdoc cref="EncoderLayer.UseFusedSublayers"/>
    public bool UseFusedSublayers { get; set; }

    bool Fused(Tensor x) =>
        training
        && UseFusedSublayers
        && cross_attn.Fusable
        && feed_forward.Fusable
        && !dropout.UseTorchDropout
        && FusedSublayers.Applicable(x);

    public override Tensor forward(Tensor target, Tensor source, Tensor attend)
    {
        if (Fused(target))
        {
            target = FusedSublayers.Attention(
                target,
                source,
                attend,
                norm_query,
                norm_source,
                cross_attn,
                dropout.P,
                FusedSublayers.Memory.NormalisedSource
            );
            return FusedSublayers.FeedForward(target, norm_ff, feed_forward, dropout.P);
        }
        var s = norm_source.forward(source);
        target = target + dropout.forward(cross_attn.forward(norm_query.forward(target), s, attend));
        return target + dropout.forward(feed_forward.forward(norm_ff.forward(target)));
    }

    /// <summary>Cross-modal attention weights of this layer: (B, H, Tq, Ts).</summary>
    public Tensor AttentionWeights(Tensor target, Tensor source, Tensor attend) =>
        cross_attn.Weights(norm_query.forward(target), norm_source.forward(source), attend);
}

/// <summary>
/// Decoder layer: causal self-attention, attention over the encoder output, feed-forward.
/// forward(y (B, L, D), memory (B, T, D), selfAttend (1, 1, L, L), memoryAttend (B, 1, 1, T)) → (B, L, D).
/// </summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    readonly LayerNorm norm_self;
    readonly MultiHeadAttention self_attn;
    readonly LayerNorm norm_cross;
    readonly MultiHeadAttention cross_attn;
    readonly LayerNorm norm_ff;
    readonly FeedForward feed_forward;
    readonly ParallelDropout dropout;

    public DecoderLayer(string name, long dModel, long heads, long inner, double dropout)
        : base(name)
    {
        norm_self = nn.LayerNorm(dModel);
        self_attn = new MultiHeadAttention("self_attn", dModel, heads, dropout);
        norm_cross = nn.LayerNorm(dModel);
        cross_attn = new MultiHeadAttention("cross_attn", dModel, heads, dropout);
        norm_ff = nn.LayerNorm(dModel);
        feed_forward = new FeedForward("feed_forward", dModel, inner, dropout);
        this.dropout = new ParallelDropout("dropout", dropout);
        RegisterComponents();
    }

    /// <summary>
    /// One position, the last, given the layer's normalised inputs at the positions before it (<paramref name="past"/>,
    /// (B, t, D), or null at the first position): what <see cref="forward"/> computes at that position under the causal
    /// mask, in evaluation mode. Returns the output (B, 1, D) and the normalised inputs with this position's added.
    /// </summary>
    public (Tensor output, Tensor past) Step(Tensor y, Tensor? past, Tensor memory, Tensor memoryAttend)
    {
        var h = norm_self.forward(y); // (B, 1, D)
        var keys = past is null ? h : cat([past, h], 1); // (B, t + 1, D)
        using var everyKey = ones(1, 1, 1, keys.shape[1], dtype: ScalarType.Bool, device: y.device);
        y = y + dropout.forward(self_attn.forward(h, keys, everyKey));
        y = y + dropout.forward(cross_attn.forward(norm_cross.forward(y), memory, memoryAttend));
        return (y + dropout.forward(feed_forward.forward(norm_ff.forward(y))), keys);
    }

    /// <inheritdoc cref="EncoderLayer.UseFusedSublayers"/>
    public bool UseFusedSublayers { get; set; }

    bool Fused(Tensor x) =>
        training
        && UseFusedSublayers
        && self_attn.Fusable
        && cross_attn.Fusable
        && feed_forward.Fusable
        && !dropout.UseTorchDropout
        && FusedSublayers.Applicable(x);

    public override Tensor forward(Tensor y, Tensor memory, Tensor selfAttend, Tensor memoryAttend)
    {
        if (Fused(y))
        {
            y = FusedSublayers.Attention(y, null, selfAttend, norm_self, null, self_attn, dropout.P, FusedSublayers.Memory.Self);
            y = FusedSublayers.Attention(y, memory, memoryAttend, norm_cross, null, cross_attn, dropout.P, FusedSublayers.Memory.RawSource);
            return FusedSublayers.FeedForward(y, norm_ff, feed_forward, dropout.P);
        }
        var h = norm_self.forward(y);
        y = y + dropout.forward(self_attn.forward(h, h, selfAttend));
        y = y + dropout.forward(cross_attn.forward(norm_cross.forward(y), memory, memoryAttend));
        return y + dropout.forward(feed_forward.forward(norm_ff.forward(y)));
    }
}
