namespace Research.Model.Embeddings;

/// <summary>How <see cref="EmbeddingExtractor"/> batches items and what it returns.</summary>
public sealed record EmbeddingOptions
{
    /// <summary>Items per forward pass. Results do not depend on it (padding is masked); memory and speed do.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>
    /// Items read ahead, in store order, and sorted by audio length into batches, so a batch holds items of similar
    /// length (less padding) while results still come out in store order. At least <see cref="BatchSize"/>.
    /// </summary>
    public int Window { get; init; } = 256;

    /// <summary>Also return each item's frame-level fused output (valid audio steps only).</summary>
    public bool Frames { get; init; }

    /// <summary>Throws, naming the field, unless the sizes are usable.</summary>
    public void Validate()
    {
        if (BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1");
        }
        if (Window < BatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(Window), Window, $"Window must be at least BatchSize ({BatchSize})");
        }
    }
}
