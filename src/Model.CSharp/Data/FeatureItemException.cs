namespace Research.Model.Data;

/// <summary>An item whose features could not be computed, were invalid (NaN, ±inf, wrong width) or could not be read back.</summary>
public sealed class FeatureItemException : Exception
{
    /// <summary>The feature store.</summary>
    public string Store { get; }

    /// <summary>The item's id.</summary>
    public string ItemId { get; }

    /// <summary>The modality at fault, when one is.</summary>
    public string? Modality { get; }

    /// <summary>What went wrong, without the store and item (the message has them).</summary>
    public string Reason { get; }

    /// <summary>An error at item <paramref name="itemId"/> (position <paramref name="position"/> in the item list).</summary>
    public FeatureItemException(string store, string itemId, int position, string? modality, string reason, Exception? inner = null)
        : base(
            $"feature store {store}: item '{itemId}' (#{position}){(modality != null ? $", modality '{modality}'" : "")}: {reason}",
            inner
        )
    {
        Store = store;
        ItemId = itemId;
        Modality = modality;
        Reason = reason;
    }
}
