/// The phases of one training step timed between its operations, and the same step at minimal sizes: shared by the
/// step benchmark (its floor: what the step costs besides its products whatever their arithmetic) and the profile.
module Research.Benchmarks.BenchPhases

open System
open System.Diagnostics
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Training

/// The phases of one TrainStep.Run, in milliseconds.
type Phases =
    {
        /// Dropping the gradients before the step (TrainStep.DropGradients, as TrainStep runs it).
        ClearGradients: float list
        Forward: float list
        Loss: float list
        Backward: float list
        /// Gradient clipping and Adam, one pass (FusedAdam, as TrainStep runs them).
        Optimiser: float list
        Total: float list
        /// Tensors made by .NET calls in one step (each a TorchSharp call that returns a new tensor: the managed side's
        /// op count; backward's ops run inside libtorch and make none): forward and loss, clipping and Adam.
        ForwardTensors: int64
        OptimiserTensors: int64
    }

/// Tensors TorchSharp has made on this thread so far (in dispose scopes or not).
let private tensorsMade () =
    let s = DisposeScopeManager.Statistics.TensorStatistics
    s.CreatedInScopeCount + s.CreatedOutsideScopeCount

let private ms (clock: Stopwatch) (since: float) = clock.Elapsed.TotalMilliseconds - since

/// Times the phases of TrainStep.Run's operations (same order, same optimiser settings, a GC every 3 steps outside
/// the timed region as in the step benchmark).
let phases (config: ModelConfig) (shape: BatchShape) (warmup: int) (repeats: int) (seed: int) =
    use scope = torch.NewDisposeScope()
    torch.manual_seed (int64 seed) |> ignore
    use model = new MultiTaskModel(config)
    let criterion = MultiTaskCriterion.For(config)
    let parameters = model.parameters () |> Array.ofSeq

    let optimiser =
        torch.optim.Adam(parameters, lr = 1e-4, beta1 = 0.9, beta2 = 0.98, eps = 1e-9)

    let struct (input, targets) = SyntheticBatch.Create(config, shape, seed, torch.CPU)

    let rows = Array.init 6 (fun _ -> ResizeArray<float>())
    let mutable forwardTensors = 0L
    let mutable optimiserTensors = 0L

    for n in 1 .. warmup + repeats do
        let times =
            use _ = torch.NewDisposeScope()
            let made0 = tensorsMade ()
            let clock = Stopwatch.StartNew()
            TrainStep.DropGradients parameters
            let t1 = clock.Elapsed.TotalMilliseconds
            model.train ()
            let output = model.forward (input, targets.AsrInput)
            let t2 = clock.Elapsed.TotalMilliseconds
            let loss = criterion.Compute(output, targets)
            loss.Total.item<float32>() |> ignore
            let t3 = clock.Elapsed.TotalMilliseconds
            let made3 = tensorsMade ()
            loss.Total.backward ()
            let t4 = clock.Elapsed.TotalMilliseconds
            FusedAdam.ClipAndStep(optimiser, 5.0) |> ignore
            let t5 = clock.Elapsed.TotalMilliseconds
            forwardTensors <- made3 - made0
            optimiserTensors <- tensorsMade () - made3
            [| t1; t2 - t1; t3 - t2; t4 - t3; t5 - t4; t5 |]

        if n > warmup then
            Array.iteri (fun i t -> rows[i].Add t) times

        if n % 3 = 0 then
            GC.Collect()

    let l i = List.ofSeq rows[i]

    {
        ClearGradients = l 0
        Forward = l 1
        Loss = l 2
        Backward = l 3
        Optimiser = l 4
        Total = l 5
        ForwardTensors = forwardTensors
        OptimiserTensors = optimiserTensors
    }

/// The same model with every size at its minimum (same layers, heads, heads' classes kept small, and every option
/// that adds operations: CTC head, any-subset training, learned modality weights): the step's sequence of
/// operations with negligible arithmetic.
let minimal (c: ModelConfig) =
    let d = 2 * c.Heads

    ModelConfig(
        AudioDim = 2,
        VideoDim = 2,
        TextDim = 2,
        DModel = d,
        Heads = c.Heads,
        FeedForward = 2,
        AudioLayers = c.AudioLayers,
        CrossModalLayers = c.CrossModalLayers,
        DecoderLayers = c.DecoderLayers,
        VocabSize = c.VocabSize,
        Speakers = 2,
        Emotions = c.Emotions,
        Dropout = c.Dropout,
        LabelSmoothing = c.LabelSmoothing,
        Modalities = c.Modalities,
        Tasks = c.Tasks,
        CtcWeight = c.CtcWeight,
        AnySubset = c.AnySubset,
        ModalityDropout = c.ModalityDropout,
        LearnedModalityWeights = c.LearnedModalityWeights,
        ModalityWeightLearningRateScale = c.ModalityWeightLearningRateScale
    )

let minimalShape =
    BatchShape(Batch = 2, AudioSteps = 4, VideoFrames = 4, Words = 2, Characters = 3)
