using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>Shape guards shared by the encoders, with the offending shape in the message.</summary>
public static class Shapes
{
    /// <summary>Requires features (B, T, dim) and a (B, T) bool padding mask.</summary>
    public static void RequireSequence(Tensor features, Tensor padding, long dim, string modality)
    {
        if (features.dim() != 3 || features.shape[2] != dim)
        {
            throw new ArgumentException(
                $"{modality}: expected features of shape (Batch, Length, {dim}), got [{string.Join(", ", features.shape)}]"
            );
        }
        if (
            padding.dtype != ScalarType.Bool
            || padding.dim() != 2
            || padding.shape[0] != features.shape[0]
            || padding.shape[1] != features.shape[1]
        )
        {
            throw new ArgumentException(
                $"{modality}: expected a bool padding mask of shape [{features.shape[0]}, {features.shape[1]}], got {padding.dtype} [{string.Join(", ", padding.shape)}]"
            );
        }
    }
}
