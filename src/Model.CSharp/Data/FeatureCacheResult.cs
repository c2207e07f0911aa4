namespace Research.Model.Data;

/// <summary>An item left out of a feature store, and why.</summary>
/// <param name="Id">The item.</param>
/// <param name="Reason">What failed (naming the modality when one did).</param>
/// <param name="Modality">The modality that failed; null when the whole item did (its fingerprint or feature function).</param>
public sealed record SkippedFeatureItem(string Id, string Reason, string? Modality = null);

/// <summary>
/// What <see cref="FeatureCache.Build"/> did: items computed, reused from the previous store (their bytes copied),
/// and previous items no longer listed (removed); skipped items (only with
/// <see cref="FeatureCacheOptions.SkipFailedItems"/>); whether the store was rewritten (false when nothing changed);
/// and why a previous store could not be reused, if it existed but was unreadable.
/// </summary>
public sealed record FeatureCacheResult(
    int Computed,
    int Reused,
    int Removed,
    IReadOnlyList<SkippedFeatureItem> Skipped,
    bool Rewritten,
    string? PreviousStoreProblem
);

/// <summary>Progress of a build after each item: done of total, and which item was last.</summary>
public readonly record struct FeatureCacheProgress(int Done, int Total, int Computed, int Reused, int Skipped, string Id);
