using Research.Model.Models;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>Items a trainer draws batches from: their ids, their lengths (for bucketing) and batches as tensors.</summary>
public interface IBatchSource
{
    /// <summary>Number of items.</summary>
    int Count { get; }

    /// <summary>The id of item i (for error messages and predictions).</summary>
    string Id(int item);

    /// <summary>Audio steps of every item, to batch items of similar length together.</summary>
    IReadOnlyList<long> Lengths { get; }

    /// <summary>The model input and targets of the given items, padded, on <paramref name="device"/>.</summary>
    (EncoderInput input, Targets targets) Batch(IReadOnlyList<int> items, Device device);
}
