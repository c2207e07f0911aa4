using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// One modality of the late-fusion baseline: a multi-layer bidirectional GRU summarised by "the output from the
/// last time step" (paper §4.1), taken per item under padding: the top layer's forward state after the item's
/// last valid step and its backward state at step 0, which has read the whole valid sequence. The batch is run
/// as a packed sequence, so padded steps are never read (not even by the backward direction, which starts at
/// each item's own end) and padding changes nothing.
/// forward(features (B, T, inputDim), padding (B, T) bool, true = pad) → (B, 2·hidden) = [forward; backward].
/// </summary>
public sealed class BiGruEncoder : nn.Module<Tensor, Tensor, Tensor>
{
    readonly GRU gru;
    readonly string modality;
    readonly long inputDim;
    readonly long layers;
    readonly long hidden;
    readonly double dropout;

    /// <param name="name">module name</param>
    /// <param name="modality">named in error messages</param>
    /// <param name="inputDim">features per step</param>
    /// <param name="hidden">hidden units per direction</param>
    /// <param name="layers">stacked GRU layers</param>
    /// <param name="dropout">dropout on the outputs of every GRU layer but the last (training only)</param>
    public BiGruEncoder(string name, string modality, long inputDim, long hidden, long layers, double dropout)
        : base(name)
    {
        this.modality = modality;
        this.inputDim = inputDim;
        this.layers = layers;
        this.hidden = hidden;
        this.dropout = layers > 1 ? dropout : 0.0;
        gru = nn.GRU(inputDim, hidden, layers, batchFirst: true, dropout: layers > 1 ? dropout : 0.0, bidirectional: true);
        RegisterComponents();
    }

    /// <summary>The recurrence itself, for running several encoders as one (<see cref="StreamedBiGru"/>).</summary>
    public GRU Gru => gru;

    /// <summary>Hidden units per direction.</summary>
    public long Hidden => hidden;

    /// <summary>Stacked layers.</summary>
    public long Layers => layers;

    /// <summary>Dropout between layers in training (0 with one layer).</summary>
    public double Dropout => dropout;

    /// <summary>
    /// The batch checked as <see cref="forward"/> checks it (shape, no empty item, padding only after the valid
    /// steps), as the input of <see cref="StreamedBiGru"/>.
    /// </summary>
    public StreamedBiGru.Input Checked(Tensor features, Tensor padding)
    {
        Shapes.RequireSequence(features, padding, inputDim, modality);
        Masks.RequireNonEmpty(padding, modality);
        using var lengths = padding.logical_not().sum(1).cpu();
        RequireTrailingPadding(padding, lengths);
        return new StreamedBiGru.Input(gru, features, lengths.data<long>().ToArray());
    }

    public override Tensor forward(Tensor features, Tensor padding)
    {
        Shapes.RequireSequence(features, padding, inputDim, modality);
        Masks.RequireNonEmpty(padding, modality);
        var lengths = padding.logical_not().sum(1).cpu(); // (B) int64, on the CPU as packing requires
        RequireTrailingPadding(padding, lengths);
        using var packed = nn.utils.rnn.pack_padded_sequence(features, lengths, batch_first: true, enforce_sorted: false);
        var (output, last) = gru.call(packed, null); // last: (layers·2, B, hidden), in the batch's own order
        output.Dispose();
        var top = last.narrow(0, 2 * (layers - 1), 2); // (2, B, hidden): forward after the last valid step, backward at step 0
        return cat([top[0], top[1]], 1); // (B, 2·hidden)
    }

    /// <summary>Packing reads the first length steps of each item: padding must be a suffix of every row.</summary>
    void RequireTrailingPadding(Tensor padding, Tensor lengths)
    {
        using var _ = NewDisposeScope();
        var expected = Masks.PaddingFromLengths(lengths.data<long>().ToArray(), padding.shape[1], padding.device);
        var wrong = expected.not_equal(padding).any(1); // (B)
        if (wrong.any().item<bool>())
        {
            var items = wrong.nonzero().flatten().cpu().data<long>().ToArray();
            throw new ArgumentException(
                $"{modality}: item(s) {string.Join(", ", items)} have padding before valid steps; padding must come after every item's steps"
            );
        }
    }
}
