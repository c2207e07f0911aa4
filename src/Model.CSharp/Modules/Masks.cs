using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Attention masks as <b>bool</b> tensors where <c>true</c> = may attend, the convention of
/// <c>functional.scaled_dot_product_attention</c>. (A bool <c>attn_mask</c> given to TorchSharp's built-in
/// transformer layers is added as 0/1 and masks nothing; we never use those.)
/// Padding masks throughout the model are (Batch, Length) bool with <c>true</c> = padding.
/// </summary>
public static class Masks
{
    /// <summary>
    /// Mask attention scores in training with <c>masked_fill</c> and padded positions with <c>masked_fill</c> (libtorch's
    /// scalar loop, forward and backward) instead of adding <see cref="Additive"/> and multiplying by a 0/1 mask
    /// (vectorised); the same numbers bit for bit. Process-wide; the benchmark measures both in one run.
    /// </summary>
    public static bool UseMaskedFill { get; set; }

    /// <summary>(B, T) padding → (B, 1, 1, T) attend-mask over keys.</summary>
    public static Tensor FromKeyPadding(Tensor padding)
    {
        if (padding.dtype != ScalarType.Bool || padding.dim() != 2)
        {
            throw new ArgumentException(
                $"padding must be a (Batch, Length) bool tensor, got {padding.dtype} of shape [{string.Join(", ", padding.shape)}]"
            );
        }
        return padding.logical_not().unsqueeze(1).unsqueeze(1);
    }

    /// <summary>
    /// An attend-mask as a float32 tensor of the same shape to add to attention scores: 0 where attending, −∞ where
    /// not. Adding it gives the scores <c>masked_fill(¬attend, −∞)</c> gives, bit for bit, as a vectorised sum whose
    /// backward passes the gradient through (zero there anyway: the softmax's output is 0 where the score is −∞).
    /// </summary>
    public static Tensor Additive(Tensor attend) =>
        zeros(attend.shape, dtype: ScalarType.Float32, device: attend.device).masked_fill_(attend.logical_not(), float.NegativeInfinity);

    /// <summary>(1, 1, T, T) attend-mask: position t sees positions ≤ t.</summary>
    public static Tensor Causal(long length, Device device) =>
        ones(length, length, dtype: ScalarType.Bool, device: device).tril().unsqueeze(0).unsqueeze(0);

    /// <summary>(B, T) padding from per-item lengths: position t of item b is padding when t ≥ lengths[b].</summary>
    public static Tensor PaddingFromLengths(long[] lengths, long maxLength, Device? device = null)
    {
        var positions = arange(maxLength, device: device).unsqueeze(0);
        var lens = tensor(lengths, device: device).unsqueeze(1);
        return positions.ge(lens);
    }

    /// <summary>Throws naming the modality and items when an item has no valid position (attention over nothing).</summary>
    public static void RequireNonEmpty(Tensor padding, string modality)
    {
        using var empty = padding.all(1);
        if (empty.any().item<bool>())
        {
            var items = empty.nonzero().flatten().data<long>().ToArray();
            throw new ArgumentException(
                $"{modality}: item(s) {string.Join(", ", items)} of the batch have no frames; give the modality weight 0 or drop the item"
            );
        }
    }
}
