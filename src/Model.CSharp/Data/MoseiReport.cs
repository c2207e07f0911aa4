namespace Research.Model.Data;

/// <summary>A segment left out, and why.</summary>
/// <param name="VideoId">The video.</param>
/// <param name="Index">The segment's row in the video's labels.</param>
/// <param name="Reason">What was wrong, naming the root and file.</param>
/// <param name="File">The .csd file at fault.</param>
public sealed record MoseiSkip(string VideoId, int Index, string Reason, string File);

/// <summary>
/// What a <see cref="MoseiCorpus"/> pass did not take as given. Fold mismatches are known at open; skips and -inf
/// replacements accumulate while segments are enumerated and are complete when an enumeration has finished (each new
/// enumeration starts them afresh).
/// </summary>
public sealed class MoseiReport
{
    internal readonly List<MoseiSkip> skipped = [];
    internal readonly SortedDictionary<string, long> replaced = new(System.StringComparer.Ordinal);

    /// <summary>Video ids listed in a fold but absent from the labels file, in fold order.</summary>
    public IReadOnlyList<string> MissingFromData { get; internal init; } = [];

    /// <summary>Video ids of the labels file in no fold (their segments are not produced), in ordinal order.</summary>
    public IReadOnlyList<string> NotInAnyFold { get; internal init; } = [];

    /// <summary>Segments skipped under <see cref="MoseiOptions.SkipEmptySegments"/> or <see cref="MoseiOptions.SkipNaNSegments"/>.</summary>
    public IReadOnlyList<MoseiSkip> Skipped => skipped;

    /// <summary>Root → number of -inf values replaced by <see cref="MoseiOptions.NegativeInfinityValue"/> in the videos read.</summary>
    public IReadOnlyDictionary<string, long> NegativeInfinityReplaced => replaced;

    /// <summary>Segments produced by the last enumeration.</summary>
    public int Segments { get; internal set; }

    internal void Restart()
    {
        skipped.Clear();
        replaced.Clear();
        Segments = 0;
    }
}
