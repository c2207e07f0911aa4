namespace Research.Model.Training;

/// <summary>
/// A checkpoint file is truncated, corrupt (its checksum does not match) or not a checkpoint at all; the message
/// names the file and what was found. <see cref="Checkpoint.LoadLatest"/> falls back to the previous checkpoint.
/// </summary>
public sealed class CorruptCheckpointException : IOException
{
    /// <summary>An error with its message.</summary>
    public CorruptCheckpointException(string message)
        : base(message) { }

    /// <summary>An error with its message and cause.</summary>
    public CorruptCheckpointException(string message, Exception inner)
        : base(message, inner) { }
}
