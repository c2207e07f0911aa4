/// Small helpers that pin TorchSharp's overloads for F# tests.
module Research.Model.Tests.Tensors

open System
open TorchSharp

/// A float32 tensor of the given shape from row-major values.
let floats (shape: int64 list) (values: float32 array) (requiresGrad: bool) : torch.Tensor =
    torch.tensor (values, ReadOnlySpan<int64>(List.toArray shape), requires_grad = requiresGrad)

/// All values of a tensor, flattened, as float32.
let values (t: torch.Tensor) : float32 array =
    t.detach().cpu().to_type(torch.float32).contiguous().data<float32>().ToArray()

/// Largest absolute difference between two tensors of the same shape.
let maxAbsDiff (a: torch.Tensor) (b: torch.Tensor) : float =
    (a - b).abs().max().item<float32>() |> float

/// A 1-D int64 tensor.
let longs (values: int64 array) : torch.Tensor = torch.tensor (values: int64 array)
