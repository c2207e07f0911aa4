using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Sinusoidal positional encoding (Vaswani et al.). Chosen over learned positions because it has no
/// parameters and no maximum length: pre-training and fine-tuning utterances differ in length, and each
/// modality runs at its own rate (audio 20/s after stacking, video 25/s, text per word).
/// </summary>
public static class PositionalEncoding
{
    /// <summary>
    /// (T, D) table: even dims sin(t / 10000^(i/D)), odd dims cos of the same. Computed in float32, or in float64 for
    /// a float64 table (a float64 model then has no float32 rounding in its positions).
    /// </summary>
    public static Tensor Table(long length, long dim, Device device, ScalarType dtype = ScalarType.Float32)
    {
        if (dim % 2 != 0)
        {
            throw new ArgumentException($"positional encoding needs an even dimension, got {dim}");
        }
        var compute = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var position = arange(length, dtype: compute, device: device).unsqueeze(1); // (T, 1)
        var rates = exp(arange(0, dim, 2, dtype: compute, device: device) * (-Math.Log(10000.0) / dim)); // (D/2)
        var angles = position * rates; // (T, D/2)
        return stack([sin(angles), cos(angles)], dim: 2).reshape(length, dim).to_type(dtype);
    }

    /// <summary>x + table: (B, T, D) → (B, T, D).</summary>
    public static Tensor Add(Tensor x) => x + Table(x.shape[1], x.shape[2], x.device, x.dtype).unsqueeze(0);
}
