using System.Security.Cryptography;

namespace Research.Model.Training;

/// <summary>
/// What a run was made from besides its config and seed, written into run.json (<c>inputs</c>) and compared, like the
/// config, whenever the folder is reused or resumed (<see cref="RunFolder.OpenOrResume(string, object, int, RunInfo, RunInputs)"/>):
/// the model/trainer code version, the dataset label its results are reported under, and a fingerprint of each
/// input (feature stores, the pre-trained weights a fine-tuning run starts from).
/// </summary>
/// <param name="CodeVersion">the code's <see cref="CurrentCodeVersion"/> when the run started</param>
/// <param name="Dataset">the label of the data the run trains on (the tables print it on the run's rows)</param>
/// <param name="Fingerprints">input name (e.g. "stores/train", "pretrained") → its fingerprint</param>
public sealed record RunInputs(int CodeVersion, string Dataset, IReadOnlyDictionary<string, string> Fingerprints)
{
    /// <summary>
    /// The version of the model and trainer semantics. Bump this literal whenever a change to a model, a loss, the
    /// trainer, the data order or the predictions would make a new run differ from an old one with the same config:
    /// runs of another version are then never reused (their reuse is a <see cref="RunConfigMismatchException"/>).
    /// </summary>
    public const int CurrentCodeVersion = 1;

    /// <summary>Inputs at the current code version; the fingerprints are kept in sorted order.</summary>
    public static RunInputs Current(string dataset, IEnumerable<KeyValuePair<string, string>> fingerprints) =>
        new(CurrentCodeVersion, dataset, new SortedDictionary<string, string>(fingerprints.ToDictionary(), StringComparer.Ordinal));

    /// <summary>A file's content fingerprint: "sha256:" and the lower-case hex SHA-256 of its bytes.</summary>
    public static string FileFingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
