namespace Research.Model.Data;

/// <summary>How a feature store keeps a modality's values on disk; the value is the bytes per element.</summary>
public enum FeatureElementType : byte
{
    /// <summary>IEEE half precision: half the disk and I/O, about 3 significant digits, |x| ≤ 65504.</summary>
    Float16 = 2,

    /// <summary>IEEE single precision, exactly what the feature function returned (the default).</summary>
    Float32 = 4,
}
