using static TorchSharp.torch;

namespace Research.Model.Modules;

/// <summary>
/// Cross-modal attention probabilities of a batch, one tensor per layer of each branch: Video[l] is
/// (B, H, audio steps, video frames), Text[l] is (B, H, audio steps, words). Null for a branch the encoder does not
/// have or whose input the batch lacks. See <see cref="MultimodalEncoder.AttentionMaps"/>.
/// </summary>
public sealed record CrossModalAttention(Tensor[]? Video, Tensor[]? Text);
