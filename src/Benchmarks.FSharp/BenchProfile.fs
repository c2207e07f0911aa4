/// Where the time of a training step goes. TorchSharp 0.107 has no autograd profiler and its module hooks fire only
/// through `call` (our modules use `forward`), so the profile is built from wall clocks, which are exact on the CPU
/// (every op runs synchronously):
///   1. in situ: the phases of TrainStep.Run (clearing the gradients, forward, loss, backward, gradient clipping and Adam), timed
///      between its operations on the real model;
///   2. components: each kind of block the model is made of — input projections, attention q/k/v/out projections,
///      the attention core (scores, mask, softmax, dropout, weighted sum, head reshapes), feed-forward blocks,
///      LayerNorms, output layers with their losses — built from our own modules and run alone at the shapes and
///      counts the step runs them, forward and forward+backward; the rest of the forward/backward (residual sums,
///      dropout on residual branches, positions, masks, pooling) is what the components leave unexplained;
///   3. data loading: a batch of the same shape read from a feature store (FeatureStore → padded tensors, as
///      PretrainingData.Batch does), outside the step;
///   4. per-step fixed cost: the same step with every size set to a minimum, i.e. the same sequence of operations
///      with negligible arithmetic: the managed and dispatch overhead contained in the rows above.
module Research.Benchmarks.BenchProfile

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Text
open Research.Model.Runtime
open Research.Benchmarks.BenchStats
open Research.Benchmarks.BenchPhases
open Research.Experiments

type Tensor = torch.Tensor

/// Repetitions.
type Timing = { Warmup: int; Repeats: int }

/// Times the phases of TrainStep.Run's operations (BenchPhases.phases) with this profile's repetitions.
let phases (config: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) =
    BenchPhases.phases config shape timing.Warmup timing.Repeats seed

/// One kind of block, measured alone: `Count` instances per step; Forward and Both time one instance.
type Component =
    {
        Group: string
        Name: string
        Count: int
        /// Forward FLOPs of one instance (matrix products only, as Flops.cs counts).
        Flops: int64
        Forward: unit -> unit
        Both: unit -> unit
    }

let private grads (y: Tensor) =
    torch.autograd.backward (y, torch.ones_like y)

/// A Linear(inDim, outDim) on (b, t, inDim); the input needs a gradient unless it is the batch's data.
let private linearOn group name count (b: int64) (t: int64) (inDim: int64) (outDim: int64) dataInput =
    let layer = torch.nn.Linear(inDim, outDim)

    let x = torch.randn ([| b; t; inDim |], requires_grad = not dataInput)

    {
        Group = group
        Name = name
        Count = count
        Flops = Flops.Linear(b * t, inDim, outDim)
        Forward = fun () -> layer.forward x |> ignore
        Both = fun () -> grads (layer.forward x)
    }

/// n Linear(D, D) applied to the same (b, t, D) input as one product with their weights stacked (D → n·D), as
/// MultiHeadAttention does with FuseProjections.
let private stackedOn group name count (b: int64) (t: int64) (d: int64) (n: int) =
    let layers = Array.init n (fun _ -> torch.nn.Linear(d, d))
    let x = torch.randn ([| b; t; d |], requires_grad = true)

    let run () =
        torch.nn.functional.linear (
            x,
            torch.cat (layers |> Array.map (fun l -> l.weight :> Tensor), 0L),
            torch.cat (layers |> Array.map (fun l -> l.bias :> Tensor), 0L)
        )

    {
        Group = group
        Name = name
        Count = count
        Flops = int64 n * Flops.Linear(b * t, d, d)
        Forward = fun () -> run () |> ignore
        Both = fun () -> grads (run ())
    }

let private lengthsMask (b: int) (t: int) =
    Masks.FromKeyPadding(Masks.PaddingFromLengths(SyntheticBatch.ItemLengths(b, t), int64 t))

/// The components of one training step of the multi-task model at a batch shape; `fused`: attention projections as
/// MultiHeadAttention runs them with FuseProjections on (q/k/v or k/v stacked) or off (each on its own).
let components (c: ModelConfig) (shape: BatchShape) (fused: bool) =
    let b = int64 shape.Batch
    let d = int64 c.DModel
    let ta, tv, tw = int64 shape.AudioSteps, int64 shape.VideoFrames, int64 shape.Words
    let l = int64 shape.Characters + 1L
    let video = c.Modalities.Video > 0.0
    let text = c.Modalities.Text > 0.0
    let asr = c.Tasks.Asr > 0.0
    let branches = (if video then 1 else 0) + (if text then 1 else 0)
    let audioMask = lengthsMask shape.Batch shape.AudioSteps
    let attentions = ResizeArray<string * int * int64 * int64 * Tensor * bool>()
    attentions.Add(("audio self-attention", c.AudioLayers, ta, ta, audioMask, true))

    if video then
        attentions.Add(("video→audio attention", c.CrossModalLayers, ta, tv, lengthsMask shape.Batch shape.VideoFrames, false))

    if text then
        attentions.Add(("text→audio attention", c.CrossModalLayers, ta, tw, lengthsMask shape.Batch shape.Words, false))

    if asr then
        attentions.Add(("decoder self-attention", c.DecoderLayers, l, l, Masks.Causal(l, torch.CPU), true))
        attentions.Add(("decoder→encoder attention", c.DecoderLayers, l, ta, audioMask, false))

    [
        // Input projections: applied to the data, which needs no gradient.
        linearOn "input projections" "audio Linear" 1 b ta c.AudioDim d true
        if video then
            linearOn "input projections" "video Linear" 1 b tv c.VideoDim d true
        if text then
            linearOn "input projections" "text Linear" 1 b tw c.TextDim d true

        for name, count, tq, tk, mask, self in attentions do
            // The whole block (our MultiHeadAttention, train mode) ...
            let mha = new MultiHeadAttention("attention", d, c.Heads, c.Dropout)
            mha.FuseProjections <- fused
            mha.train ()
            let q = torch.randn ([| b; tq; d |], requires_grad = true)

            let m =
                if self then
                    q
                else
                    torch.randn ([| b; tk; d |], requires_grad = true)

            {
                Group = "attention block (projections + core)"
                Name = name
                Count = count
                Flops = Flops.Attention(b, tq, tk, d)
                Forward = fun () -> mha.forward (q, m, mask) |> ignore
                Both = fun () -> grads (mha.forward (q, m, mask))
            }
            // ... and its four projections alone (query and output on the queries, key and value on the keys), as the
            // block computes them.
            let group = "attention projections (q, k, v, out)"

            if fused && self then
                stackedOn group $"{name}: q, k, v stacked" count b tq d 3
                linearOn group $"{name}: out" count b tq d d false
            elif fused then
                linearOn group $"{name}: q, out" (2 * count) b tq d d false
                stackedOn group $"{name}: k, v stacked" count b tk d 2
            else
                linearOn group $"{name}: q, out" (2 * count) b tq d d false
                linearOn group $"{name}: k, v" (2 * count) b tk d d false

        let feedForward name count t =
            let block = new FeedForward("feed_forward", d, c.FeedForward, c.Dropout)
            block.train ()
            let x = torch.randn ([| b; t; d |], requires_grad = true)

            {
                Group = "feed-forward"
                Name = name
                Count = count
                Flops = Flops.FeedForward(b * t, d, c.FeedForward)
                Forward = fun () -> block.forward x |> ignore
                Both = fun () -> grads (block.forward x)
            }

        feedForward "encoder streams" (c.AudioLayers + branches * c.CrossModalLayers) ta

        if asr then
            feedForward "decoder" c.DecoderLayers l

        let norm name count t =
            let ln = torch.nn.LayerNorm(d)
            let x = torch.randn ([| b; t; d |], requires_grad = true)

            {
                Group = "layer norms"
                Name = name
                Count = count
                Flops = 0L
                Forward = fun () -> ln.forward x |> ignore
                Both = fun () -> grads (ln.forward x)
            }

        norm "audio axis" (2 * c.AudioLayers + 1 + branches * (2 * c.CrossModalLayers + 1)) ta

        if video then
            norm "video source" c.CrossModalLayers tv

        if text then
            norm "text source" c.CrossModalLayers tw

        if asr then
            norm "decoder" (3 * c.DecoderLayers + 1) l

            let output = torch.nn.Linear(d, int64 c.VocabSize)
            let x = torch.randn ([| b; l; d |], requires_grad = true)

            let target =
                torch.randint (int64 CharVocabulary.FirstCharacter, int64 c.VocabSize, [| b * l |])

            let loss () =
                torch.nn.functional.cross_entropy (
                    output.forward(x).reshape(-1L, int64 c.VocabSize),
                    target,
                    ignore_index = int64 CharVocabulary.Pad,
                    label_smoothing = c.LabelSmoothing
                )

            {
                Group = "output layers and losses"
                Name = "ASR output + cross-entropy"
                Count = 1
                Flops = Flops.Linear(b * l, d, int64 c.VocabSize)
                Forward = fun () -> loss () |> ignore
                Both = fun () -> (loss ()).backward()
            }

        if c.Tasks.Speaker > 0.0 then
            let head = torch.nn.Linear(d, int64 c.Speakers)
            let x = torch.randn ([| b; d |], requires_grad = true)
            let target = torch.randint (int64 c.Speakers, [| b |])

            let loss () =
                torch.nn.functional.cross_entropy (head.forward x, target)

            {
                Group = "output layers and losses"
                Name = "speaker head + cross-entropy"
                Count = 1
                Flops = Flops.Linear(b, d, int64 c.Speakers)
                Forward = fun () -> loss () |> ignore
                Both = fun () -> (loss ()).backward()
            }
    ]

/// Median milliseconds of one call of f (each call in its own dispose scope; gradients accumulate harmlessly).
let private time (timing: Timing) (f: unit -> unit) =
    let once () =
        use _ = torch.NewDisposeScope()
        let clock = Stopwatch.StartNew()
        f ()
        clock.Elapsed.TotalMilliseconds

    for _ in 1 .. timing.Warmup do
        once () |> ignore

    List.init timing.Repeats (fun _ -> once ())

/// Reading a batch of this shape from a feature store (written once into a temporary folder with random features),
/// then padding it into tensors with its ASR pairs and speakers, as PretrainingData.Batch does.
let dataLoading (c: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) =
    let dir =
        Path.Combine(Path.GetTempPath(), $"research-bench-store-{Guid.NewGuid():N}")

    try
        let rng = Random seed

        let matrix rows cols =
            Array2D.init rows cols (fun _ _ -> float32 (rng.NextDouble() - 0.5))

        let lengths max =
            SyntheticBatch.ItemLengths(shape.Batch, max) |> Array.map int

        let audio, video, words, chars =
            lengths shape.AudioSteps, lengths shape.VideoFrames, lengths shape.Words, lengths shape.Characters

        let items = [| 0 .. shape.Batch - 1 |]

        FeatureCache.Build(
            dir,
            items,
            (fun i -> $"item{i}"),
            (fun _ -> "bench"),
            fun i ->
                readOnlyDict
                    [
                        CorpusFeatures.Audio, matrix audio[i] c.AudioDim
                        CorpusFeatures.Video, matrix video[i] c.VideoDim
                        CorpusFeatures.Text, matrix words[i] c.TextDim
                    ]
        )
        |> ignore

        use store = FeatureStore.Open dir

        let transcripts =
            chars
            |> Array.map (fun n -> Array.init n (fun _ -> rng.Next(CharVocabulary.FirstCharacter, c.VocabSize)))

        let load () =
            let input = StoreBatches.Input(store, items, torch.CPU)
            let struct (asrIn, _) = Targets.AsrPairs(transcripts, torch.CPU)
            let speakers = torch.tensor (items |> Array.map int64)

            if
                input.Audio.Features.shape[0] <> int64 shape.Batch
                || asrIn.shape[0] <> speakers.shape[0]
            then
                failwith "data loading: wrong batch size"

        time timing load
    finally
        if Directory.Exists dir then
            Directory.Delete(dir, true)

        // FeatureCache leaves <store>.lock next to the store.
        File.Delete(dir + ".lock")

/// Sets MultiHeadAttention.FuseProjections on every attention block of a model.
let setFused (model: torch.nn.Module) (on: bool) =
    for struct (_, m) in model.named_modules () do
        match m with
        | :? MultiHeadAttention as a -> a.FuseProjections <- on
        | _ -> ()

/// Makes every ParallelDropout of a model use libtorch's dropout (true) or its own parallel masks (false).
let setTorchDropout (model: torch.nn.Module) (on: bool) =
    for struct (_, m) in model.named_modules () do
        match m with
        | :? ParallelDropout as d -> d.UseTorchDropout <- on
        | _ -> ()

/// Sets UseFusedSublayers on every transformer layer of a model.
let setFusedSublayers (model: torch.nn.Module) (on: bool) =
    for struct (_, m) in model.named_modules () do
        match m with
        | :? EncoderLayer as l -> l.UseFusedSublayers <- on
        | :? CrossModalLayer as l -> l.UseFusedSublayers <- on
        | :? DecoderLayer as l -> l.UseFusedSublayers <- on
        | _ -> ()

/// A change to the step measured before and after in one run.
type Experiment =
    {
        Key: string
        What: string
        Before: string
        After: string
        /// Switches a model and its training step to the state after the change (true) or before it (false).
        Switch: torch.nn.Module -> TrainStep -> bool -> unit
        /// Whether the model now runs the state after the change by default.
        Adopted: bool
    }

/// Gradient clipping and Adam in one pass over each parameter (FusedAdam), or TorchSharp's clip_grad_norm_ and
/// Adam.step (adopted; the same update to float rounding, see the TrainingRules tests). Measured on both models.
let fusedAdam =
    {
        Key = "fused_adam"
        What =
            "FusedAdam: gradient clipping and Adam as one vectorised pass per parameter (norm in one read of the gradients; moments and values updated in one read and one write) instead of clip_grad_norm_ and TorchSharp's Adam.step (~11 libtorch ops per parameter tensor)"
        Before = "clip_grad_norm_ and Adam.step (TrainStep.UseTorchAdam on)"
        After = "FusedAdam (the default)"
        Switch = fun _ step on -> step.UseTorchAdam <- not on
        Adopted = true
    }

/// Gradients dropped before each step instead of filled with zeros (adopted: the same numbers bit for bit, see the
/// TrainingRules tests).
let droppedGradients =
    {
        Key = "dropped_gradients"
        What =
            "TrainStep.DropGradients: every parameter's gradient dropped before the step (backward writes the new one) instead of zero_grad (a fill per parameter tensor, then backward adds into it)"
        Before = "zero_grad (TrainStep.UseZeroGrad on)"
        After = "gradients dropped (the default)"
        Switch = fun _ step on -> step.UseZeroGrad <- not on
        Adopted = true
    }

/// Attention scores and padded positions masked by vectorised sums and products instead of masked_fill (adopted:
/// the same numbers bit for bit, see the MultiHeadAttention tests).
let additiveMasks =
    {
        Key = "additive_masks"
        What =
            "Masks.Additive: attention scores masked by adding 0/-inf, padded positions zeroed by a 0/1 product (vectorised, forward and backward) instead of masked_fill (libtorch's scalar loop, forward and backward)"
        Before = "masked_fill (Masks.UseMaskedFill on)"
        After = "sum and product (the default)"
        Switch = fun _ _ on -> Masks.UseMaskedFill <- not on
        Adopted = true
    }

/// Each layer's two residual sublayers as one autograd node each (FusedSublayers), or its modules op by op (not
/// adopted yet, see FusedSublayers' remarks; the same numbers to float rounding, see the FusedSublayers tests).
let fusedSublayers =
    {
        Key = "fused_sublayers"
        What =
            "FusedSublayers: each layer's attention and feed-forward sublayers as one autograd node each with a hand-written backward (layer norms, masked softmax with the weights' dropout, ReLU with dropout, residual sums as vectorised .NET passes; dropout masks recomputed from their seeds)"
        Before = "modules op by op (the default)"
        After = "fused sublayers (UseFusedSublayers on)"
        Switch = fun m _ on -> setFusedSublayers m on
        Adopted = false
    }

/// The profile's actions: on the largest item (attention projections; measured no faster, so not adopted) and on
/// the largest item below the ceiling (dropout masks, found inside the attention core, the feed-forward blocks and
/// the rest; adopted); then the optimiser, the demo profile's largest single item after the matrix products (adopted);
/// then two exact changes to what the step does around the products (gradients dropped instead of zeroed, masks as
/// vectorised sums and products; adopted); then the layers' element-wise work around the products as fused passes
/// (not adopted yet: faster on the demo model, slower on the paper model at two threads).
let experiments =
    [
        {
            Key = "fused_projections"
            What =
                "MultiHeadAttention.FuseProjections: q, k, v of self-attention as one product (weights stacked, D -> 3D), k and v of cross-attention as one (D -> 2D)"
            Before = "projections separate (the default)"
            After = "projections fused (FuseProjections on)"
            Switch = fun m _ on -> setFused m on
            Adopted = false
        }
        {
            Key = "parallel_dropout"
            What =
                "ParallelDropout: dropout masks drawn in parallel from a counter-based generator instead of libtorch's serial bernoulli_; attention written out in training so that its weights' dropout uses it"
            Before = "libtorch's dropout (UseTorchDropout on)"
            After = "ParallelDropout (the default)"
            Switch = fun m _ on -> setTorchDropout m (not on)
            Adopted = true
        }
        fusedAdam
        droppedGradients
        additiveMasks
        fusedSublayers
    ]

/// An experiment at one torch thread, as the main job trains the demo models (two processes of one thread).
let private oneThread (e: Experiment) =
    { e with
        Key = e.Key + "_one_thread"
        What = e.What + "; one torch thread, as the main job trains"
    }

/// The changes measured again at one torch thread on the demo model.
let oneThreadExperiments =
    [ droppedGradients; additiveMasks; fusedSublayers ] |> List.map oneThread

/// Runs f at one torch thread, then restores the run's count.
let private atOneThread (f: unit -> 'a) =
    let threads = torch.get_num_threads ()
    TorchRuntime.Initialize 1

    try
        f ()
    finally
        TorchRuntime.Initialize threads

/// Training steps through a TrainStep before and after a change, interleaved on one model and batch (before/after,
/// then after/before, ...) so that both see the same load.
let private interleaved
    (model: torch.nn.Module)
    (step: TrainStep)
    (input: EncoderInput)
    (targets: Targets)
    (timing: Timing)
    (e: Experiment)
    =
    let before = ResizeArray<float>()
    let after = ResizeArray<float>()

    let run on =
        e.Switch model step on
        step.Run(input, targets).Milliseconds

    for _ in 1 .. timing.Warmup do
        run false |> ignore
        run true |> ignore

    for i in 1 .. timing.Repeats do
        for on in (if i % 2 = 1 then [ false; true ] else [ true; false ]) do
            (if on then after else before).Add(run on)

        GC.Collect()

    e.Switch model step e.Adopted
    let b = spread "before" (List.ofSeq before)
    let a = spread "after" (List.ofSeq after)

    printfn "    %s: step %.0f ms -> %.0f ms (%+.1f %%)" e.Key b.Median a.Median (100.0 * (a.Median / b.Median - 1.0))

    JsonObject(
        dict
            [
                "key", JsonValue.Create e.Key :> JsonNode
                "what", JsonValue.Create e.What
                "before", JsonValue.Create e.Before
                "after", JsonValue.Create e.After
                "adopted", JsonValue.Create e.Adopted
                "before_ms_per_step", sampleJson "before" (List.ofSeq before)
                "after_ms_per_step", sampleJson "after" (List.ofSeq after)
                "ratio_of_medians_after_over_before", JsonValue.Create(a.Median / b.Median)
            ]
    )

/// A change to the transformer's step, measured before and after in one run.
let beforeAfter (c: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) (e: Experiment) =
    use scope = torch.NewDisposeScope()
    torch.manual_seed (int64 seed) |> ignore
    use model = new MultiTaskModel(c)

    let step =
        TrainStep(model, MultiTaskCriterion.For(c), LearningRateSchedule(0.05, c.DModel, 4))

    let struct (input, targets) = SyntheticBatch.Create(c, shape, seed, torch.CPU)
    interleaved model step input targets timing e

/// The late-fusion model's recurrence: the modalities' GRUs as one streamed recurrence, or libtorch's packed GRU per
/// modality (adopted: measured faster at both sizes, and the same function, see LateFusionModelTests).
let streamedGru =
    {
        Key = "streamed_gru"
        What =
            "late-fusion model: StreamedBiGru, both directions of all three modalities' GRUs advanced by one batched product and one set of gate ops per time step, instead of libtorch's packed GRU per modality and direction"
        Before = "libtorch's packed GRU (UseTorchGru on)"
        After = "StreamedBiGru (the default)"
        Switch =
            fun m _ on ->
                match m with
                | :? LateFusionModel as l -> l.UseTorchGru <- not on
                | _ -> invalidArg "m" "not a late-fusion model"
        Adopted = true
    }

/// A change to the late-fusion model's step (the model of a profiled configuration's size: the paper's for the paper
/// profile, the demo's inputs for the demo), measured before and after in one run.
let lateFusionBeforeAfter (c: LateFusionConfig) (shape: BatchShape) (timing: Timing) (seed: int) (e: Experiment) =
    use scope = torch.NewDisposeScope()
    torch.manual_seed (int64 seed) |> ignore
    use model = new LateFusionModel(c)

    let step =
        TrainStep(model, MultiTaskCriterion(TaskWeights.EmotionOnly), LearningRateSchedule(1e-3, 1, 1))

    let data =
        ModelConfig(AudioDim = c.AudioDim, VideoDim = c.VideoDim, TextDim = c.TextDim, Emotions = c.Emotions)

    let struct (input, targets) = SyntheticBatch.Create(data, shape, seed, torch.CPU)
    interleaved model step input targets timing e

/// What the collection guard costs per training step, by its mode (the gate that holds the finalizer thread, the
/// default; a full collection with finalizers drained before each step, the former guard, RESEARCH_COLLECTION_GUARD=full):
/// training steps run as the trainer runs them (CollectionGuard.Run around TrainStep), the modes interleaved on one
/// model and batch; per step the guard's own time (closing the gate, or collecting and draining finalizers:
/// CollectionGuard.CollectTime) and the whole step with it. Blocks during which a collection happened are counted.
let guardCost (c: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) =
    use scope = torch.NewDisposeScope()
    torch.manual_seed (int64 seed) |> ignore
    use model = new MultiTaskModel(c)

    let step =
        TrainStep(model, MultiTaskCriterion.For(c), LearningRateSchedule(0.05, c.DModel, 4))

    let struct (input, targets) = SyntheticBatch.Create(c, shape, seed, torch.CPU)
    let saved = CollectionGuard.Mode
    let modes = [ GuardMode.FullCollection; GuardMode.Gate ]
    let guard = Dictionary<GuardMode, ResizeArray<float>>()
    let whole = Dictionary<GuardMode, ResizeArray<float>>()
    let overruns = Dictionary<GuardMode, int64>()

    for g in modes do
        guard[g] <- ResizeArray()
        whole[g] <- ResizeArray()
        overruns[g] <- 0L

    let run g record =
        CollectionGuard.Mode <- g
        let collected = CollectionGuard.CollectTime
        let over = CollectionGuard.Overruns
        let clock = Stopwatch.StartNew()
        CollectionGuard.Run(fun () -> step.Run(input, targets) |> ignore)
        let total = clock.Elapsed.TotalMilliseconds

        if record then
            guard[g].Add((CollectionGuard.CollectTime - collected).TotalMilliseconds)
            whole[g].Add total
            overruns[g] <- overruns[g] + (CollectionGuard.Overruns - over)

    // Runs of a few steps per mode, as in training (the gate stays closed across the steps of one run).
    let runLength = 8

    try
        for _ in 1 .. timing.Warmup do
            for g in modes do
                run g false

        for i in 1 .. max 1 (timing.Repeats / runLength) do
            for g in (if i % 2 = 1 then modes else List.rev modes) do
                for _ in 1..runLength do
                    run g true
    finally
        CollectionGuard.Mode <- saved
        CollectionGuard.Open()

    for g in modes do
        printfn
            "    collection guard, %A: %.2f ms per step (step with it %.1f ms; blocks with a collection %d)"
            g
            (spread "guard" (List.ofSeq guard[g])).Median
            (spread "step" (List.ofSeq whole[g])).Median
            overruns[g]

    JsonArray(
        [|
            for g in modes ->
                JsonObject(
                    dict
                        [
                            "mode", JsonValue.Create(if g = GuardMode.Gate then "gate" else "full") :> JsonNode
                            "guard_ms", sampleJson "guard" (List.ofSeq guard[g])
                            "step_with_guard_ms", sampleJson "step" (List.ofSeq whole[g])
                            "overruns", JsonValue.Create(overruns[g])
                            "adopted", JsonValue.Create((g = GuardMode.Gate))
                        ]
                )
                :> JsonNode
        |]
    )

/// Elements the training step draws dropout masks for: embeddings and sources after their positions, attention
/// weights, feed-forward inner activations and residual branches.
let dropoutElements (c: ModelConfig) (shape: BatchShape) =
    let b, d, f = int64 shape.Batch, int64 c.DModel, int64 c.FeedForward
    let ta, tv, tw = int64 shape.AudioSteps, int64 shape.VideoFrames, int64 shape.Words
    let l = int64 shape.Characters + 1L
    let h = int64 c.Heads
    let layer tq tk = h * tq * tk + 2L * tq * d + tq * f // weights, two residual branches, feed-forward inner
    let audio = ta * d + int64 c.AudioLayers * layer ta ta

    let branch used t =
        if used then
            t * d + int64 c.CrossModalLayers * layer ta t
        else
            0L

    let decoder =
        if c.Tasks.Asr > 0.0 then
            l * d + int64 c.DecoderLayers * (h * l * l + h * l * ta + 3L * l * d + l * f)
        else
            0L

    b
    * (audio
       + branch (c.Modalities.Video > 0.0) tv
       + branch (c.Modalities.Text > 0.0) tw
       + decoder)

/// Dropout alone on one (B, Ta, D) tensor, forward + backward, both ways; scaled to the step's dropout elements.
let dropoutCost (c: ModelConfig) (shape: BatchShape) (timing: Timing) =
    use scope = torch.NewDisposeScope()

    let x =
        torch.randn ([| int64 shape.Batch; int64 shape.AudioSteps; int64 c.DModel |], requires_grad = true)

    let measure torchDropout =
        let d =
            new ParallelDropout("dropout", max c.Dropout 0.1, UseTorchDropout = torchDropout)

        d.train ()
        time timing (fun () -> grads (d.forward x))

    let elements = dropoutElements c shape
    let scale = float elements / float (x.numel ())
    let before = measure true
    let after = measure false

    JsonObject(
        dict
            [
                "elements_per_step", JsonValue.Create elements :> JsonNode
                "probe_elements", JsonValue.Create(x.numel ())
                "probe_before_ms", sampleJson "dropout" before
                "probe_after_ms", sampleJson "dropout" after
                "estimated_step_ms_before", JsonValue.Create(scale * (spread "dropout" before).Median)
                "estimated_step_ms_after", JsonValue.Create(scale * (spread "dropout" after).Median)
            ]
    )

/// The per-op overhead: TorchSharp calls on 1-element tensors, where the arithmetic is nil, so that what is timed is
/// the call itself (P/Invoke, libtorch's dispatcher, the result's Tensor object, its dispose-scope registration and
/// disposal), in µs per op, in guarded blocks as the step runs them: a tensor-tensor op (a.add b), an op with an
/// implicit scalar (a.mul 0.5: a finalizable Scalar made per call and left to the finalizer, as C#'s implicit conversion does) and the same op with the scalar made
/// once and held.
let opOverhead (timing: Timing) =
    use scope = torch.NewDisposeScope()
    let a = torch.ones 1L
    let b = torch.ones 1L
    use half = (0.5).ToScalar()
    let ops = 5000

    let measure (op: unit -> Tensor) =
        [
            for n in 1 .. timing.Warmup + timing.Repeats do
                let clock = Stopwatch.StartNew()

                CollectionGuard.Run(fun () ->
                    use _ = torch.NewDisposeScope()

                    for _ in 1..ops do
                        op () |> ignore)

                let us = clock.Elapsed.TotalMicroseconds / float ops

                if n > timing.Warmup then
                    yield us
        ]

    [
        "tensor_tensor", measure (fun () -> a.add b)
        "implicit_scalar", measure (fun () -> a.mul ((0.5).ToScalar()))
        "held_scalar", measure (fun () -> a.mul half)
    ]

let private phasesJson (p: Phases) =
    JsonObject(
        dict
            [
                "clear_gradients", sampleJson "clear_gradients" p.ClearGradients :> JsonNode
                "forward", sampleJson "forward" p.Forward
                "loss", sampleJson "loss" p.Loss
                "backward", sampleJson "backward" p.Backward
                "optimiser", sampleJson "optimiser" p.Optimiser
                "total", sampleJson "total" p.Total
                "forward_tensors", JsonValue.Create p.ForwardTensors
                "optimiser_tensors", JsonValue.Create p.OptimiserTensors
            ]
    )

/// Profiles one configuration; returns its JSON record (every repetition) and prints the breakdown.
let profile (name: string) (c: ModelConfig) (shape: BatchShape) (timing: Timing) (seed: int) =
    let probe = LoadProbe()
    let inSitu = phases c shape timing seed
    let floor = phases (minimal c) minimalShape timing seed
    let median xs = (spread "profile" xs).Median

    let measured =
        use scope = torch.NewDisposeScope()
        torch.manual_seed (int64 seed) |> ignore

        [
            // Projections as the model runs them by default (MultiHeadAttention.FuseProjections off).
            for k in components c shape false ->
                let forward = time timing k.Forward
                let both = time timing k.Both
                k, forward, both
        ]

    let loading = dataLoading c shape timing seed
    let dropout = dropoutCost c shape timing
    let guard = guardCost c shape timing seed
    let perOp = opOverhead timing

    let lateFusion =
        LateFusionConfig(AudioDim = c.AudioDim, VideoDim = c.VideoDim, TextDim = c.TextDim, Emotions = c.Emotions)

    let actions =
        (experiments |> List.map (fun e -> beforeAfter c shape timing seed e :> JsonNode))
        // At one thread only where the main job trains at one thread: the demo model.
        @ [
            if name = "demo" then
                for e in oneThreadExperiments -> atOneThread (fun () -> beforeAfter c shape timing seed e :> JsonNode)
        ]
        @ [
            lateFusionBeforeAfter lateFusion shape timing seed streamedGru
            lateFusionBeforeAfter lateFusion shape timing seed fusedAdam
        ]

    let load = probe.Stop()
    let step = median inSitu.Total

    let sumBy group (useBoth: bool) =
        measured
        |> List.filter (fun (k, _, _) -> k.Group = group)
        |> List.sumBy (fun (k, f, b) -> float k.Count * median (if useBoth then b else f))

    let attention both =
        sumBy "attention block (projections + core)" both

    let projections both =
        sumBy "attention projections (q, k, v, out)" both

    let rows =
        [
            "attention projections (q, k, v, out)", projections false, projections true
            "attention core (scores, mask, softmax, dropout, weighted sum, reshapes)",
            attention false - projections false,
            attention true - projections true
            "feed-forward", sumBy "feed-forward" false, sumBy "feed-forward" true
            "input projections", sumBy "input projections" false, sumBy "input projections" true
            "layer norms", sumBy "layer norms" false, sumBy "layer norms" true
            "output layers and losses", sumBy "output layers and losses" false, sumBy "output layers and losses" true
        ]

    let explainedForward = rows |> List.sumBy (fun (_, f, _) -> f)
    let explainedBoth = rows |> List.sumBy (fun (_, _, b) -> b)
    let inSituForward = median inSitu.Forward + median inSitu.Loss
    let inSituBoth = inSituForward + median inSitu.Backward

    let allRows =
        rows
        @ [
            "rest of forward and backward (residual sums, residual dropout, positions, masks, pooling, embedding)",
            inSituForward - explainedForward,
            inSituBoth - explainedBoth
            "optimiser: gradient clipping and Adam (FusedAdam, one pass)", 0.0, median inSitu.Optimiser
            "clearing the gradients (dropped, as TrainStep does)", 0.0, median inSitu.ClearGradients
        ]

    printfn "  profile %s (batch %d): step %.0f ms in situ" name shape.Batch step

    for what, f, b in allRows do
        printfn "    %-60s forward %7.1f ms, in the step %7.1f ms (%4.1f %%)" what f b (100.0 * b / step)

    printfn "    %-60s %7.1f ms per batch (outside the step)" "data loading (store -> tensors)" (median loading)
    printfn "    %-60s %7.1f ms (the same operations at minimal sizes)" "per-step fixed cost" (median floor.Total)

    let tensorTensor =
        median (perOp |> List.find (fun (k, _) -> k = "tensor_tensor") |> snd)

    let made = inSitu.ForwardTensors + inSitu.OptimiserTensors

    printfn
        "    %-60s %s; %d tensors made by .NET per step (forward and loss %d, clipping and Adam %d): about %.1f ms"
        "per-op overhead (1-element ops, us per op)"
        (String.Join(", ", perOp |> List.map (fun (k, xs) -> $"{k} {median xs:F2}")))
        made
        inSitu.ForwardTensors
        inSitu.OptimiserTensors
        (float made * tensorTensor / 1000.0)

    let flopsOf group =
        measured
        |> List.filter (fun (k, _, _) -> k.Group = group)
        |> List.sumBy (fun (k, _, _) -> int64 k.Count * k.Flops)

    JsonObject(
        dict
            [
                "config", JsonValue.Create name :> JsonNode
                "batch", JsonValue.Create shape.Batch
                "in_situ_phases_ms", phasesJson inSitu
                "minimal_sizes_phases_ms", phasesJson floor
                "data_loading_ms", sampleJson "data loading" loading
                "per_op_us", JsonObject(dict [ for k, xs in perOp -> k, sampleJson ("per-op " + k) xs :> JsonNode ])
                "collection_guard", guard
                "rows",
                JsonArray(
                    allRows
                    |> List.map (fun (what, f, b) ->
                        JsonObject(
                            dict
                                [
                                    "item", JsonValue.Create what :> JsonNode
                                    "forward_ms", JsonValue.Create f
                                    "step_ms", JsonValue.Create b
                                    "share_of_step", JsonValue.Create(b / step)
                                ]
                        )
                        :> JsonNode)
                    |> Array.ofList
                )
                "components",
                JsonArray(
                    measured
                    |> List.map (fun (k, f, b) ->
                        JsonObject(
                            dict
                                [
                                    "group", JsonValue.Create k.Group :> JsonNode
                                    "name", JsonValue.Create k.Name
                                    "count", JsonValue.Create k.Count
                                    "forward_flops_each", JsonValue.Create k.Flops
                                    "forward_ms_each", sampleJson k.Name f
                                    "forward_backward_ms_each", sampleJson k.Name b
                                ]
                        )
                        :> JsonNode)
                    |> Array.ofList
                )
                "forward_flops_by_group",
                JsonObject(
                    [
                        "attention projections (q, k, v, out)"
                        "attention block (projections + core)"
                        "feed-forward"
                        "input projections"
                        "output layers and losses"
                    ]
                    |> List.map (fun g -> KeyValuePair(g, JsonValue.Create(flopsOf g) :> JsonNode))
                )
                "dropout", dropout
                "actions", JsonArray(Array.ofList actions)
                "load", loadJson load
            ]
    )
