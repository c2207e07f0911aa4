namespace Research.Model.Training;

/// <summary>
/// A run folder was opened (to reuse a finished run, resume an unfinished one, or reuse cached predictions) with a
/// config, seed or inputs (code version, dataset, input fingerprints) other than the ones it was made with. The
/// message names the folder and each differing key with its old and new value (<c>inputs.…</c> for the inputs) and
/// says how to go on; <see cref="DifferingKeys"/> lists the keys.
/// </summary>
public sealed class RunConfigMismatchException(string folder, IReadOnlyList<string> differingKeys, string details)
    : InvalidOperationException(
        $"{folder}: this run was made with a different config or inputs, so it is neither reused nor resumed; "
            + $"differing keys (old → new): {details}. Rerun with --fresh to train into a new folder beside it "
            + "(name-2, name-3, …; this one stays untouched), or restore the old config and inputs."
    )
{
    /// <summary>The run folder.</summary>
    public string Folder { get; } = folder;

    /// <summary>The differing keys as dotted paths ("seed" for the seed), sorted.</summary>
    public IReadOnlyList<string> DifferingKeys { get; } = differingKeys;
}
