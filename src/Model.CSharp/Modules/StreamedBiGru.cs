using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Several multi-layer bidirectional GRUs (one per modality of the late-fusion model), each summarised as
/// <see cref="BiGruEncoder"/> does, computed as one recurrence. Each modality's two directions are two "streams"; at
/// every time step one batched matrix product advances all streams still running (the longest modality runs
/// longest), followed by the gate arithmetic on all of them at once. libtorch's packed GRU instead runs a cell per
/// direction, layer and modality at every step (about a dozen small ops each), which made the per-op overhead most of
/// the late-fusion step at the demo's sizes (BENCHMARKS.md, training step).
/// The arithmetic is the GRU's (PyTorch's gate order r, z, n; the hidden bias inside the reset product):
/// r = σ(Wᵢᵣx + bᵢᵣ + Wₕᵣh + bₕᵣ), z = σ(Wᵢ𝓏x + bᵢ𝓏 + Wₕ𝓏h + bₕ𝓏), n = tanh(Wᵢₙx + bᵢₙ + r ⊙ (Wₕₙh + bₕₙ)),
/// h' = (1 − z) ⊙ n + z ⊙ h, on the GRU modules' own parameters, so weights, checkpoints and initialisation are those
/// of <c>nn.GRU</c>. Padding is never read: the forward stream of an item runs over its valid steps first, and the
/// backward stream over its valid steps reversed within the item; later steps compute values nothing reads. Between
/// layers, dropout on each layer's outputs in training, as <c>nn.GRU</c> does.
/// </summary>
public static class StreamedBiGru
{
    /// <summary>One modality: its GRU (bidirectional, batch-first) and its features with per-item valid lengths.</summary>
    public sealed record Input(GRU Gru, Tensor Features, long[] Lengths);

    /// <summary>
    /// Per input, (B, 2·hidden) = [forward state after the item's last valid step; backward state at step 0], as
    /// <see cref="BiGruEncoder.forward"/> gives. Every input has the same batch and every length is at least 1.
    /// </summary>
    public static Tensor[] Summaries(IReadOnlyList<Input> inputs, long hidden, long layers, double dropout, bool training)
    {
        if (inputs.Count == 0)
        {
            throw new ArgumentException("no sequence to run");
        }
        var batch = inputs[0].Features.shape[0];
        var steps = new long[inputs.Count];
        for (var m = 0; m < inputs.Count; m++)
        {
            var x = inputs[m];
            if (x.Features.shape[0] != batch || x.Lengths.Length != batch)
            {
                throw new ArgumentException($"sequence {m}: batch {x.Features.shape[0]} (lengths {x.Lengths.Length}), expected {batch}");
            }
            if (x.Lengths.Any(l => l < 1 || l > x.Features.shape[1]))
            {
                throw new ArgumentException($"sequence {m}: every length must be in [1, {x.Features.shape[1]}]");
            }
            steps[m] = x.Lengths.Max();
        }
        // Streams ordered by their modality's step count, longest first, so the streams still running at a step are a prefix.
        var order = Enumerable.Range(0, inputs.Count).OrderByDescending(m => steps[m]).ThenBy(m => m).ToArray();
        var device = inputs[0].Features.device;

        using var scope = NewDisposeScope();
        var reverse = new Tensor[inputs.Count]; // (B, T_m): step t of the reversed item reads position reverse[b, t]
        var last = new Tensor[inputs.Count]; // (1, B, hidden) index of each item's last valid step
        var layerInput = new Tensor[inputs.Count];
        for (var m = 0; m < inputs.Count; m++)
        {
            var t = steps[m];
            var lengths = inputs[m].Lengths;
            var index = new long[batch * t];
            for (var b = 0; b < batch; b++)
            {
                for (var s = 0; s < t; s++)
                {
                    index[b * t + s] = s < lengths[b] ? lengths[b] - 1 - s : s;
                }
            }
            reverse[m] = tensor(index, [batch, t], device: device);
            last[m] = tensor(lengths.Select(l => l - 1).ToArray(), device: device).view(1, batch, 1).expand(1, batch, hidden);
            layerInput[m] = inputs[m].Features.narrow(1, 0, t);
        }

        var parameters = inputs.Select(x => x.Gru.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter)).ToArray();
        Tensor[] summaries = [];
        for (var layer = 0; layer < layers; layer++)
        {
            var outputs = Layer(layer, parameters, layerInput, reverse, steps, order, batch, hidden);
            if (layer < layers - 1)
            {
                for (var m = 0; m < inputs.Count; m++)
                {
                    var both = cat([outputs[m].forward, outputs[m].backward], 2); // (B, T_m, 2·hidden)
                    layerInput[m] =
                        training && dropout > 0 ? both * ParallelDropout.ScaledMask(both.shape, dropout, both.dtype, both.device) : both;
                }
            }
            else
            {
                summaries = new Tensor[inputs.Count];
                for (var m = 0; m < inputs.Count; m++)
                {
                    // (B, T_m, hidden) per direction → the state at each item's last step of its stream
                    var f = outputs[m].forward.transpose(0, 1).gather(0, last[m]).squeeze(0);
                    var b = outputs[m].backwardReversed.transpose(0, 1).gather(0, last[m]).squeeze(0);
                    summaries[m] = cat([f, b], 1).MoveToOuterDisposeScope();
                }
            }
        }
        return summaries;
    }

    /// <summary>
    /// One layer of every modality: the forward outputs (B, T_m, hidden) in time order, the backward outputs in time
    /// order (position t holds the state after reading the item's valid steps from its end down to t), and the
    /// backward stream as run (step t = t-th step from the item's end).
    /// </summary>
    static (Tensor forward, Tensor backward, Tensor backwardReversed)[] Layer(
        int layer,
        Dictionary<string, Tensor>[] parameters,
        Tensor[] inputs,
        Tensor[] reverse,
        long[] steps,
        int[] order,
        long batch,
        long hidden
    )
    {
        var gates = 3 * hidden;
        var maxSteps = steps[order[0]];
        // Input projections of both directions of a modality in one product; the backward half read in reversed order.
        var streamInputs = new List<Tensor>(2 * order.Length); // (T_max, B, 3·hidden) per stream
        var recurrent = new List<Tensor>(2 * order.Length); // (3·hidden, hidden)
        var recurrentBias = new List<Tensor>(2 * order.Length); // (3·hidden)
        foreach (var m in order)
        {
            var p = parameters[m];
            string Name(string kind, bool backward) => $"{kind}_l{layer}" + (backward ? "_reverse" : "");
            var wi = cat([p[Name("weight_ih", false)], p[Name("weight_ih", true)]], 0);
            var bi = cat([p[Name("bias_ih", false)], p[Name("bias_ih", true)]], 0);
            var projected = nn.functional.linear(inputs[m], wi, bi); // (B, T_m, 6·hidden)
            var fwd = projected.narrow(2, 0, gates);
            var bwd = projected.narrow(2, gates, gates).gather(1, reverse[m].unsqueeze(2).expand(batch, steps[m], gates));
            foreach (var s in new[] { fwd, bwd })
            {
                var timeMajor = s.transpose(0, 1); // (T_m, B, 3·hidden)
                streamInputs.Add(steps[m] < maxSteps ? nn.functional.pad(timeMajor, [0, 0, 0, 0, 0, maxSteps - steps[m]]) : timeMajor);
            }
            recurrent.Add(p[Name("weight_hh", false)]);
            recurrent.Add(p[Name("weight_hh", true)]);
            recurrentBias.Add(p[Name("bias_hh", false)]);
            recurrentBias.Add(p[Name("bias_hh", true)]);
        }
        // Per step (S, B, 3·hidden), by unbind rather than indexing: unbind's gradient is one stack, whereas every
        // index or narrow of a tensor has a gradient the size of the whole tensor.
        var x = stack(streamInputs, 1).unbind(0);
        var w = stack(recurrent, 0).transpose(1, 2); // (S, hidden, 3·hidden)
        var bh = stack(recurrentBias, 0).unsqueeze(1); // (S, 1, 3·hidden)
        long[] parts = [2 * hidden, hidden];

        // Streams running at step t: both of every modality with more than t steps (a prefix, streams sorted by length).
        long Running(long t) => 2 * order.Count(m => steps[m] > t);
        var byCount = new Dictionary<long, (Tensor w, Tensor b)>();
        var h = zeros(2 * order.Length, batch, hidden, dtype: inputs[0].dtype, device: inputs[0].device);
        var states = new List<Tensor>((int)maxSteps); // (k_t, B, hidden)
        for (var t = 0L; t < maxSteps; t++)
        {
            var k = Running(t);
            if (!byCount.TryGetValue(k, out var wb))
            {
                wb = (w.narrow(0, 0, k), bh.narrow(0, 0, k));
                byCount[k] = wb;
            }
            var xt = x[t].shape[0] == k ? x[t] : x[t].narrow(0, 0, k);
            if (h.shape[0] != k)
            {
                h = h.narrow(0, 0, k);
            }
            var hh = h.bmm(wb.w).add_(wb.b).split(parts, 2); // (k, B, 2·hidden), (k, B, hidden); in place: bmm keeps its inputs, not its result
            var xs = xt.split(parts, 2);
            var rz = sigmoid(xs[0] + hh[0]).chunk(2, 2); // r, z
            var n = tanh(xs[1] + rz[0] * hh[1]);
            h = n.lerp(h, rz[1]); // n + z·(h − n)
            states.Add(h);
        }

        // Per stream, its states over its own steps: the steps split into runs with the same streams running.
        var perStream = Enumerable.Range(0, 2 * order.Length).Select(_ => new List<Tensor>()).ToArray();
        for (var t = 0L; t < maxSteps; )
        {
            var k = Running(t);
            var end = t;
            while (end < maxSteps && Running(end) == k)
            {
                end++;
            }
            var streams = stack(states.GetRange((int)t, (int)(end - t)), 0).unbind(1); // k × (len, B, hidden)
            for (var s = 0; s < k; s++)
            {
                perStream[s].Add(streams[s]);
            }
            t = end;
        }
        Tensor Stream(int s) => (perStream[s].Count == 1 ? perStream[s][0] : cat(perStream[s], 0)).transpose(0, 1); // (B, T, hidden)

        var result = new (Tensor forward, Tensor backward, Tensor backwardReversed)[order.Length];
        for (var j = 0; j < order.Length; j++)
        {
            var m = order[j];
            var fwd = Stream(2 * j);
            var bwdReversed = Stream(2 * j + 1);
            var bwd = bwdReversed.gather(1, reverse[m].unsqueeze(2).expand(batch, steps[m], hidden));
            result[m] = (fwd, bwd, bwdReversed);
        }
        return result;
    }
}
