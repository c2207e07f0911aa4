using Research.Model.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Research.Model.Modules;

/// <summary>
/// The transformer layers' two residual sublayers in training, each one autograd node with a hand-written backward:
/// <list type="bullet">
/// <item>attention: x + dropout(out_proj(attention(LN(x), memory))), memory LN(x) itself (self-attention), the source
/// through its own LayerNorm (cross-modal layers) or the encoder output as it is (the decoder's cross-attention);</item>
/// <item>feed-forward: x + dropout(w2(dropout(relu(w1(LN(x)))))).</item>
/// </list>
/// Written as modules these are ~35 libtorch ops forward and about as many backward nodes per layer, most of them
/// passes over (B, T, D) activations that cost more in dispatch, allocation and autograd bookkeeping than in
/// arithmetic at the demo model's sizes (BENCHMARKS.md, profile). Here the matrix products stay libtorch's (MKL);
/// layer norms, masked softmax, ReLU, the dropouts and the residual sums are <see cref="FusedKernels"/> passes, and
/// the dropout masks are never stored: they are recomputed from their seed in backward, or not needed (see
/// <see cref="FusedKernels.SoftmaxBackward"/>, <see cref="FusedKernels.ReluDropoutBackward"/>). The seeds are drawn
/// in the order the modules draw them (attention weights, residual; inner, residual), so a fused layer computes the
/// modules' numbers with the modules' dropout masks, up to float rounding (the FusedSublayers tests compare outputs
/// and every gradient).
/// </summary>
/// <remarks>
/// An option (<see cref="EncoderLayer.UseFusedSublayers"/> and the same on the other layers), off by default. The
/// benchmark's profile (BENCHMARKS.md, interleaved before/after) measured the demo model's step 9.5 % faster with it on
/// one thread, as the main job trains, and 7 % on two, but the paper model's 12.5 % slower on two threads, where these
/// .NET passes compete with libtorch's spinning OpenMP threads. Making it the default where it helps waits for a main
/// job run that checks the tables (the float rounding changes).
/// </remarks>
public static class FusedSublayers
{
    /// <summary>Whether the attention's memory is LN(x) itself, a source through its own LayerNorm, or given as is.</summary>
    public enum Memory
    {
        Self,
        NormalisedSource,
        RawSource,
    }

    sealed record AttentionSpec(Memory Memory, long Heads, float EpsQuery, float EpsSource, double WeightsDropout, double ResidualDropout);

    sealed record FeedForwardSpec(float Eps, double InnerDropout, double ResidualDropout);

    /// <summary>
    /// x (B, Tq, D) + dropout(attention(norm(x) → queries, memory → keys and values)), with memory per
    /// <paramref name="kind"/>: norm(x) (source ignored), sourceNorm(source), or source; attend (bool, broadcastable to
    /// (B, 1, Tq, Tk), true = may attend). Dropout probabilities: the attention block's weights dropout, then
    /// <paramref name="residualDropout"/> on the branch.
    /// </summary>
    public static Tensor Attention(
        Tensor x,
        Tensor? source,
        Tensor attend,
        LayerNorm norm,
        LayerNorm? sourceNorm,
        MultiHeadAttention attention,
        double residualDropout,
        Memory kind
    )
    {
        var vars = new List<object>
        {
            new AttentionSpec(
                kind,
                attention.Heads,
                (float)norm.eps,
                (float)(sourceNorm?.eps ?? 0),
                attention.WeightsDropout,
                residualDropout
            ),
            attend,
            x,
        };
        if (kind != Memory.Self)
        {
            vars.Add(source ?? throw new ArgumentNullException(nameof(source), "fused attention: a cross-attention needs its source"));
        }
        vars.Add(norm.weight!);
        vars.Add(norm.bias!);
        if (kind == Memory.NormalisedSource)
        {
            var sn =
                sourceNorm ?? throw new ArgumentNullException(nameof(sourceNorm), "fused attention: the source's LayerNorm is missing");
            vars.Add(sn.weight!);
            vars.Add(sn.bias!);
        }
        foreach (var linear in attention.Projections)
        {
            vars.Add(linear.weight!);
            vars.Add(linear.bias!);
        }
        return AttentionFunction.apply(vars.ToArray());
    }

    /// <summary>x (B, T, D) + dropout(w2(dropout(relu(w1(norm(x)))))).</summary>
    public static Tensor FeedForward(Tensor x, LayerNorm norm, FeedForward feedForward, double residualDropout)
    {
        var (w1, w2) = feedForward.Layers;
        return FeedForwardFunction.apply(
            new FeedForwardSpec((float)norm.eps, feedForward.InnerDropout, residualDropout),
            x,
            norm.weight!,
            norm.bias!,
            w1.weight!,
            w1.bias!,
            w2.weight!,
            w2.bias!
        );
    }

    /// <summary>Whether the fused sublayers can run here: float32 CPU activations, training with gradients.</summary>
    public static bool Applicable(Tensor x) =>
        is_grad_enabled() && x.dtype == ScalarType.Float32 && x.device_type == TorchSharp.DeviceType.CPU;

    sealed class AttentionFunction : SingleTensorFunction<AttentionFunction>
    {
        public override string Name => "FusedAttentionSublayer";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var spec = (AttentionSpec)vars[0];
            var attend = (Tensor)vars[1];
            using var noGrad = no_grad();
            int i = 2;
            var x = ((Tensor)vars[i++]).contiguous();
            var source = spec.Memory == Memory.Self ? null : ((Tensor)vars[i++]).contiguous();
            var lnW = (Tensor)vars[i++];
            var lnB = (Tensor)vars[i++];
            Tensor? snW = null,
                snB = null;
            if (spec.Memory == Memory.NormalisedSource)
            {
                snW = (Tensor)vars[i++];
                snB = (Tensor)vars[i++];
            }
            Tensor wq = (Tensor)vars[i++],
                bq = (Tensor)vars[i++],
                wk = (Tensor)vars[i++],
                bk = (Tensor)vars[i++],
                wv = (Tensor)vars[i++],
                bv = (Tensor)vars[i++],
                wo = (Tensor)vars[i++],
                bo = (Tensor)vars[i++];
            long b = x.shape[0],
                tq = x.shape[1],
                d = x.shape[2],
                heads = spec.Heads,
                dh = d / heads;
            var x2 = x.view(b * tq, d);
            var (hq, xhatQ, rstdQ) = LayerNormForward(x2, lnW, lnB, spec.EpsQuery);
            Tensor hs,
                xhatS,
                rstdS;
            long tk;
            if (spec.Memory == Memory.Self)
            {
                (hs, xhatS, rstdS) = (hq, xhatQ, rstdQ);
                tk = tq;
            }
            else
            {
                tk = source!.shape[1];
                var s2 = source.view(b * tk, d);
                (hs, xhatS, rstdS) =
                    spec.Memory == Memory.NormalisedSource ? LayerNormForward(s2, snW!, snB!, spec.EpsSource) : (s2, s2, s2);
            }
            var q = nn.functional.linear(hq, wq, bq);
            var k = nn.functional.linear(hs, wk, bk);
            var v = nn.functional.linear(hs, wv, bv);
            var q4 = q.view(b, tq, heads, dh).transpose(1, 2);
            var k4 = k.view(b, tk, heads, dh).transpose(1, 2);
            var v4 = v.view(b, tk, heads, dh).transpose(1, 2);
            float scale = (float)(1.0 / Math.Sqrt(dh));
            var probs = matmul(q4, k4.transpose(-2, -1)).contiguous(); // (B, H, Tq, Tk): scores, then probabilities
            var weightsMask = FusedKernels.Mask.Draw(spec.WeightsDropout);
            var dropped = weightsMask is null ? probs : empty_like(probs);
            using (var blocked = attend.logical_not())
            using (var bias = zeros([b, 1, tq, tk], dtype: ScalarType.Float32).masked_fill_(blocked, float.NegativeInfinity))
            {
                var rows = new FusedKernels.ScoreRows(b * heads * tq, heads, tq, checked((int)tk));
                IntPtr ps = TensorMemory.Address(probs),
                    pd = TensorMemory.Address(dropped),
                    pb = TensorMemory.Address(bias);
                FusedKernels.ForEachChunk(
                    rows.Count,
                    rows.Keys,
                    (_, first, last) => FusedKernels.Softmax(ps, pd, pb, rows, scale, weightsMask, first, last)
                );
            }
            var merged = matmul(dropped, v4).transpose(1, 2).reshape(b * tq, d);
            var branch = nn.functional.linear(merged, wo, bo);
            var residualMask = FusedKernels.Mask.Draw(spec.ResidualDropout);
            var output = empty_like(x2);
            Flat(
                x2.numel(),
                branch,
                x2,
                output,
                (src, add, dst, first, last) => FusedKernels.AddDropped(src, add, dst, residualMask, first, last)
            );
            ctx.save_for_backward([
                xhatQ,
                rstdQ,
                hq,
                xhatS,
                rstdS,
                hs,
                q4,
                k4,
                v4,
                probs,
                dropped,
                merged,
                lnW,
                snW ?? lnW,
                wq,
                wk,
                wv,
                wo,
            ]);
            ctx.save_data("spec", spec);
            ctx.save_data("shape", new long[] { b, tq, tk, d });
            ctx.save_data("residualMask", residualMask!);
            return output.view(b, tq, d);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
        {
            var spec = (AttentionSpec)ctx.get_data("spec");
            var shape = (long[])ctx.get_data("shape");
            var residualMask = (FusedKernels.Mask?)ctx.get_data("residualMask");
            long b = shape[0],
                tq = shape[1],
                tk = shape[2],
                d = shape[3],
                heads = spec.Heads,
                dh = d / heads;
            var saved = ctx.get_saved_variables();
            Tensor xhatQ = saved[0],
                rstdQ = saved[1],
                hq = saved[2],
                xhatS = saved[3],
                rstdS = saved[4],
                hs = saved[5],
                q4 = saved[6],
                k4 = saved[7],
                v4 = saved[8],
                probs = saved[9],
                dropped = saved[10],
                merged = saved[11],
                lnW = saved[12],
                snW = saved[13],
                wq = saved[14],
                wk = saved[15],
                wv = saved[16],
                wo = saved[17];
            var g2 = grad.contiguous().view(b * tq, d);
            var gx = g2.clone(); // the residual path; layer norm backward adds to it
            using var gBranch = empty_like(g2);
            Flat(g2.numel(), g2, gBranch, (src, dst, first, last) => FusedKernels.Dropped(src, dst, residualMask, first, last));
            var gbo = gBranch.sum(Rows);
            var gwo = gBranch.t().mm(merged);
            using var gMerged = gBranch.mm(wo);
            using var go4 = gMerged.view(b, tq, heads, dh).transpose(1, 2);
            using var gScores = matmul(go4, v4.transpose(-2, -1)).contiguous(); // gradient of the dropped weights, then of the scores
            using var gv4 = matmul(dropped.transpose(-2, -1), go4);
            {
                float scale = (float)(1.0 / Math.Sqrt(dh));
                int keys = checked((int)tk);
                IntPtr pp = TensorMemory.Address(probs),
                    pd = TensorMemory.Address(dropped),
                    pg = TensorMemory.Address(gScores);
                FusedKernels.ForEachChunk(
                    gScores.numel() / keys,
                    keys,
                    (_, first, last) => FusedKernels.SoftmaxBackward(pp, pd, pg, keys, scale, first, last)
                );
            }
            using var gq4 = matmul(gScores, k4);
            using var gk4 = matmul(gScores.transpose(-2, -1), q4);
            using var gQ = gq4.transpose(1, 2).reshape(b * tq, d);
            using var gK = gk4.transpose(1, 2).reshape(b * tk, d);
            using var gV = gv4.transpose(1, 2).reshape(b * tk, d);
            var gwq = gQ.t().mm(hq);
            var gbq = gQ.sum(Rows);
            var gwk = gK.t().mm(hs);
            var gbk = gK.sum(Rows);
            var gwv = gV.t().mm(hs);
            var gbv = gV.sum(Rows);
            using var gHq = gQ.mm(wq);
            using var gHs = gK.mm(wk).add_(gV.mm(wv));
            var grads = new List<Tensor> { null!, null! };
            if (spec.Memory == Memory.Self)
            {
                gHq.add_(gHs);
                var (gw, gb) = LayerNormBackward(gHq, xhatQ, rstdQ, lnW, gx);
                grads.Add(gx.view(b, tq, d));
                grads.Add(gw);
                grads.Add(gb);
            }
            else
            {
                var (gw, gb) = LayerNormBackward(gHq, xhatQ, rstdQ, lnW, gx);
                grads.Add(gx.view(b, tq, d));
                if (spec.Memory == Memory.NormalisedSource)
                {
                    var gs = zeros_like(gHs);
                    var (sw, sb) = LayerNormBackward(gHs, xhatS, rstdS, snW, gs);
                    grads.Add(gs.view(b, tk, d));
                    grads.Add(gw);
                    grads.Add(gb);
                    grads.Add(sw);
                    grads.Add(sb);
                }
                else
                {
                    grads.Add(gHs.clone().view(b, tk, d));
                    grads.Add(gw);
                    grads.Add(gb);
                }
            }
            grads.AddRange([gwq, gbq, gwk, gbk, gwv, gbv, gwo, gbo]);
            return grads;
        }
    }

    sealed class FeedForwardFunction : SingleTensorFunction<FeedForwardFunction>
    {
        public override string Name => "FusedFeedForwardSublayer";

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var spec = (FeedForwardSpec)vars[0];
            using var noGrad = no_grad();
            var x = ((Tensor)vars[1]).contiguous();
            Tensor lnW = (Tensor)vars[2],
                lnB = (Tensor)vars[3],
                w1 = (Tensor)vars[4],
                b1 = (Tensor)vars[5],
                w2 = (Tensor)vars[6],
                b2 = (Tensor)vars[7];
            long b = x.shape[0],
                t = x.shape[1],
                d = x.shape[2];
            var x2 = x.view(b * t, d);
            var (h, xhat, rstd) = LayerNormForward(x2, lnW, lnB, spec.Eps);
            var inner = nn.functional.linear(h, w1, b1); // relu(·) ⊙ mask in place below
            var innerMask = FusedKernels.Mask.Draw(spec.InnerDropout);
            IntPtr pi = TensorMemory.Address(inner);
            FusedKernels.ForEachChunk(inner.numel(), 1, (_, first, last) => FusedKernels.ReluDropout(pi, innerMask, first, last));
            var branch = nn.functional.linear(inner, w2, b2);
            var residualMask = FusedKernels.Mask.Draw(spec.ResidualDropout);
            var output = empty_like(x2);
            Flat(
                x2.numel(),
                branch,
                x2,
                output,
                (src, add, dst, first, last) => FusedKernels.AddDropped(src, add, dst, residualMask, first, last)
            );
            ctx.save_for_backward([xhat, rstd, h, inner, lnW, w1, w2]);
            ctx.save_data("spec", spec);
            ctx.save_data("shape", new long[] { b, t, d });
            ctx.save_data("innerKeep", innerMask?.Keep ?? 1f);
            ctx.save_data("residualMask", residualMask!);
            return output.view(b, t, d);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor grad)
        {
            var shape = (long[])ctx.get_data("shape");
            float innerKeep = (float)ctx.get_data("innerKeep");
            var residualMask = (FusedKernels.Mask?)ctx.get_data("residualMask");
            long b = shape[0],
                t = shape[1],
                d = shape[2];
            var saved = ctx.get_saved_variables();
            Tensor xhat = saved[0],
                rstd = saved[1],
                h = saved[2],
                inner = saved[3],
                lnW = saved[4],
                w1 = saved[5],
                w2 = saved[6];
            var g2 = grad.contiguous().view(b * t, d);
            var gx = g2.clone();
            using var gBranch = empty_like(g2);
            Flat(g2.numel(), g2, gBranch, (src, dst, first, last) => FusedKernels.Dropped(src, dst, residualMask, first, last));
            var gb2 = gBranch.sum(Rows);
            var gw2 = gBranch.t().mm(inner);
            using var gInner = gBranch.mm(w2);
            IntPtr pr = TensorMemory.Address(inner),
                pg = TensorMemory.Address(gInner);
            FusedKernels.ForEachChunk(
                inner.numel(),
                1,
                (_, first, last) => FusedKernels.ReluDropoutBackward(pr, pg, innerKeep, first, last)
            );
            var gb1 = gInner.sum(Rows);
            var gw1 = gInner.t().mm(h);
            using var gH = gInner.mm(w1);
            var (gw, gb) = LayerNormBackward(gH, xhat, rstd, lnW, gx);
            return [null!, gx.view(b, t, d), gw, gb, gw1, gb1, gw2, gb2];
        }
    }

    /// <summary>The rows axis, for sums over it (a literal 0 would bind to <c>sum</c>'s element-type overload).</summary>
    static readonly long[] Rows = [0];

    delegate void BinaryPass(IntPtr src, IntPtr add, IntPtr dst, long first, long last);

    delegate void UnaryPass(IntPtr src, IntPtr dst, long first, long last);

    static void Flat(long n, Tensor src, Tensor add, Tensor dst, BinaryPass pass)
    {
        IntPtr s = TensorMemory.Address(src),
            a = TensorMemory.Address(add),
            o = TensorMemory.Address(dst);
        FusedKernels.ForEachChunk(n, 1, (_, first, last) => pass(s, a, o, first, last));
    }

    static void Flat(long n, Tensor src, Tensor dst, UnaryPass pass)
    {
        IntPtr s = TensorMemory.Address(src),
            o = TensorMemory.Address(dst);
        FusedKernels.ForEachChunk(n, 1, (_, first, last) => pass(s, o, first, last));
    }

    /// <summary>Layer norm of the rows of x (n × d, contiguous): (y, xhat, rstd).</summary>
    static (Tensor y, Tensor xhat, Tensor rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, float eps)
    {
        long n = x.shape[0];
        int d = checked((int)x.shape[1]);
        var y = empty_like(x);
        var xhat = empty_like(x);
        var rstd = empty([n], dtype: ScalarType.Float32);
        IntPtr px = TensorMemory.Address(x),
            ph = TensorMemory.Address(xhat),
            py = TensorMemory.Address(y),
            pr = TensorMemory.Address(rstd),
            pw = TensorMemory.Address(weight),
            pb = TensorMemory.Address(bias);
        FusedKernels.ForEachChunk(n, d, (_, first, last) => FusedKernels.LayerNorm(px, ph, py, pr, pw, pb, d, eps, first, last));
        return (y, xhat, rstd);
    }

    /// <summary>Adds the layer norm's input gradient to gx; returns the gradients of its weight and bias.</summary>
    static unsafe (Tensor weight, Tensor bias) LayerNormBackward(Tensor gy, Tensor xhat, Tensor rstd, Tensor weight, Tensor gx)
    {
        long n = gy.shape[0];
        int d = checked((int)gy.shape[1]);
        int chunks = FusedKernels.Chunks(n, d);
        var partial = new float[chunks * 2 * d];
        IntPtr pg = TensorMemory.Address(gy),
            ph = TensorMemory.Address(xhat),
            pr = TensorMemory.Address(rstd),
            pw = TensorMemory.Address(weight),
            po = TensorMemory.Address(gx);
        FusedKernels.ForEachChunk(
            n,
            d,
            (c, first, last) =>
            {
                fixed (float* p = partial)
                {
                    FusedKernels.LayerNormBackward(pg, ph, pr, pw, po, p + c * 2 * d, p + c * 2 * d + d, d, first, last);
                }
            }
        );
        var gw = new float[d];
        var gb = new float[d];
        for (int c = 0; c < chunks; c++)
        {
            for (int j = 0; j < d; j++)
            {
                gw[j] += partial[c * 2 * d + j];
                gb[j] += partial[c * 2 * d + d + j];
            }
        }
        return (tensor(gw), tensor(gb));
    }
}
