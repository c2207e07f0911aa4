namespace Research.Model.Training;

/// <summary>
/// A run folder is being trained by another process (or another <see cref="RunFolder"/> in this one): its lock is
/// held. The message names the folder and the holder (pid, host, since) from <c>.lock-holder</c>.
/// </summary>
public sealed class RunLockedException : IOException
{
    public RunLockedException(string folder, string message, Exception? inner = null)
        : base(message, inner)
    {
        Folder = folder;
    }

    /// <summary>The run folder whose lock is held.</summary>
    public string Folder { get; }
}
