namespace Research.Model.Data;

/// <summary>
/// Thrown by a feature function of <see cref="FeatureCache.Build"/> when one modality of an item fails, so that the
/// build's error (or the skipped item) names the modality, and a skip report the file of that modality.
/// </summary>
public sealed class ModalityFailedException : Exception
{
    /// <summary>The modality whose features failed.</summary>
    public string Modality { get; }

    /// <summary>Modality <paramref name="modality"/> failed with <paramref name="inner"/>.</summary>
    public ModalityFailedException(string modality, Exception inner)
        : base($"modality '{modality}': {inner.Message}", inner)
    {
        Modality = modality;
    }

    /// <summary>Runs <paramref name="compute"/>, wrapping what it throws in a <see cref="ModalityFailedException"/>.</summary>
    public static float[,] Guard(string modality, Func<float[,]> compute)
    {
        try
        {
            return compute();
        }
        catch (Exception e) when (e is not ModalityFailedException)
        {
            throw new ModalityFailedException(modality, e);
        }
    }
}
