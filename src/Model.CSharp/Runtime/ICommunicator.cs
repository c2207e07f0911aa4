using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>
/// The collective operations data-parallel training needs, over the processes ("ranks") of one job. The single seam
/// between the trainer and the transport: <see cref="SingleProcessCommunicator"/> (no library at all),
/// <see cref="MpiCommunicator"/> (OpenMPI's libmpi over P/Invoke); a GPU build would add one over NCCL.
/// Every rank must call every collective in the same order with tensors of the same shape and type.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 ≤ rank &lt; <see cref="Size"/>.</summary>
    int Rank { get; }

    /// <summary>Processes in the job.</summary>
    int Size { get; }

    /// <summary>What carries the collectives (for logs).</summary>
    string Engine { get; }

    /// <summary>Replaces a contiguous float32, float64 or int64 tensor by the element-wise sum over all ranks, in place.</summary>
    void AllReduceSum(Tensor buffer);

    /// <summary>Replaces a contiguous tensor on every rank by rank <paramref name="root"/>'s, in place.</summary>
    void Broadcast(Tensor buffer, int root = 0);

    /// <summary>Waits until every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every rank of the job with <paramref name="code"/> (after this rank printed why).</summary>
    void Abort(int code);
}
