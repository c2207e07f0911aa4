using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>A job of one process: every collective is the identity. Loads no library.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static readonly SingleProcessCommunicator Instance = new();

    SingleProcessCommunicator() { }

    public int Rank => 0;

    public int Size => 1;

    public string Engine => "single process";

    public void AllReduceSum(Tensor buffer) { }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        if (root != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, "a single-process job has only rank 0");
        }
    }

    public void Barrier() { }

    public void Abort(int code) => Environment.Exit(code);

    public void Dispose() { }
}
