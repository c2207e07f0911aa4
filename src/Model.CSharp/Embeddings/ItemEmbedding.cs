namespace Research.Model.Embeddings;

/// <summary>
/// One item's embedding: <paramref name="Mean"/> (D) is the mean of the fused encoder output over the item's valid
/// audio steps; <paramref name="Frames"/> (valid audio steps, D) is that output itself, when asked for.
/// </summary>
/// <param name="Item">The item's position in its feature store.</param>
/// <param name="Id">The item's id.</param>
/// <param name="Mean">Utterance embedding (D).</param>
/// <param name="Frames">Frame-level embeddings (T, D), or null.</param>
public sealed record ItemEmbedding(int Item, string Id, float[] Mean, float[,]? Frames);
