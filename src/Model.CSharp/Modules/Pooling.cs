using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>Sequence pooling that ignores padding.</summary>
public static class Pooling
{
    /// <summary>Mean over valid positions: (B, T, D), (B, T) padding → (B, D).</summary>
    public static Tensor MaskedMean(Tensor x, Tensor padding)
    {
        var valid = padding.logical_not().unsqueeze(-1).to_type(x.dtype); // (B, T, 1)
        var count = valid.sum(1).clamp_min(1.0); // (B, 1)
        return (x * valid).sum(1) / count;
    }

    /// <summary>
    /// Zeroes padded positions: (B, T, D), (B, T) padding → (B, T, D); a product with the 0/1 mask (vectorised, as is
    /// its backward), not <c>masked_fill</c> (a scalar loop), unless <see cref="Masks.UseMaskedFill"/>.
    /// </summary>
    public static Tensor ZeroPadding(Tensor x, Tensor padding) =>
        Masks.UseMaskedFill ? x.masked_fill(padding.unsqueeze(-1), 0.0) : x * padding.logical_not().unsqueeze(-1).to_type(x.dtype);
}
