namespace Research.Model.Training;

/// <summary>
/// A run folder was opened with a config (or seed) other than the one it was started with. The message names the
/// folder and each differing key with its old and new value; <see cref="DifferingKeys"/> lists the keys.
/// </summary>
public sealed class RunConfigMismatchException(string folder, IReadOnlyList<string> differingKeys, string details)
    : InvalidOperationException(
        $"{folder}: this run was started with a different config; differing keys: {details}. "
            + "Use another run folder for the new config (or delete this one to start over)."
    )
{
    /// <summary>The run folder.</summary>
    public string Folder { get; } = folder;

    /// <summary>The differing keys as dotted paths ("seed" for the seed), sorted.</summary>
    public IReadOnlyList<string> DifferingKeys { get; } = differingKeys;
}
