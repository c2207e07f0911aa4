/// The training-step benchmark: milliseconds per training step (forward, backward, gradient clipping, Adam, through
/// TrainStep on a SyntheticBatch) of the transformer and the late-fusion baseline, at the paper's and a demo size, two
/// batch sizes each; the achieved FLOP/s from the analytic count (Flops.cs); and, in the same run, the fp32 matmul
/// ceiling the step is compared with. Writes benchmarks/step.json. A measurement, not a test: numbers depend on the
/// machine and on what else runs on it (the load average is recorded).
module Research.Benchmarks.BenchStep

open System
open System.Diagnostics
open System.Reflection
open System.Runtime.InteropServices
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Runtime
open Research.Model.Training
open Research.Experiments.Machine
open Research.Commands

/// What `bench-step` accepts.
let usage: Cli.Usage =
    {
        Script = "scripts/bench-step.fsx"
        Synopsis = "[flags]"
        Summary = "Time per training step (transformer and late fusion, paper and demo sizes), achieved FLOP/s and the fp32 matmul ceiling."
        Flags =
            [
                Cli.flag "repeats" "N" "7" "least timed steps per case"
                Cli.flag "min-seconds" "S" "3" "least timed seconds per case"
                Cli.flag "max-steps" "N" "40" "most timed steps per case"
                Cli.flag "warmup" "N" "2" "untimed steps first"
                Cli.flag "matmul-repeats" "N" "10" "2048² matmuls per ceiling sample"
                Cli.flag "threads" "N" "the number of cores" "torch threads"
                Cli.flag "seed" "N" "1" "seed of the models and batches"
                Cli.flag "out" "FILE" "benchmarks/step.json" "the results file"
            ]
        Examples =
            [
                "dotnet fsi scripts/bench-step.fsx"
                "dotnet fsi scripts/bench-step.fsx -- --repeats 3 --max-steps 5 --threads 2 --out /tmp/step.json"
            ]
        Notes = []
    }

/// The paper's batch (§4.1 sizes): 8 utterances of 160 stacked audio frames (8 s), 200 video frames, 20 words, 100 characters.
let paperShape =
    BatchShape(Batch = 8, AudioSteps = 160, VideoFrames = 200, Words = 20, Characters = 100)

/// A demo batch: 16 utterances of 60 stacked audio frames (3 s, the demo corpus's typical utterance), 30 video
/// frames (10 frames/s), 10 words, 40 characters.
let demoShape =
    BatchShape(Batch = 16, AudioSteps = 60, VideoFrames = 30, Words = 10, Characters = 40)

/// The demo's transformer as the main job pre-trains it (Config.demoPretraining): d 128, 4 heads, feed-forward 200,
/// 2 audio, 2 per cross-modal branch, 1 decoder layer, the demo's 1024-d visual feature, its 120 pre-training speakers,
/// ASR 0.8 and speaker 0.2 with CTC taking 0.3 of the ASR term (its head and loss are in the step).
let demoConfig =
    let p = Research.Experiments.Config.demoPretraining

    (Research.Experiments.Config.modelConfig p.Model p.Inputs p.Modalities (TaskWeights(p.AsrWeight, p.SpeakerWeight, 0.0)) 120)
        .WithCtcWeight(p.CtcWeight)

/// The late-fusion baseline on the demo's 1024-d visual feature; otherwise the paper's sizes.
let demoLateFusion = LateFusionConfig(VideoDim = 1024)

/// A model to time.
type Subject =
    | Transformer of ModelConfig
    | LateFusion of LateFusionConfig

/// One measured case.
type Case =
    {
        Model: string
        Config: string
        Subject: Subject
        Shape: BatchShape
        /// Torch threads for this case (and its paired ceiling samples); 0: the run's.
        Threads: int
    }

/// The eight cases: each model at the paper's and the demo size, at two batch sizes each.
let cases =
    [
        for name, subject, shape in
            [
                "paper", Transformer ModelConfig.Paper, paperShape
                "demo", Transformer demoConfig, demoShape
                "paper", LateFusion LateFusionConfig.Paper, paperShape
                "demo", LateFusion demoLateFusion, demoShape
            ] do
            for batch in [ shape.Batch; 2 * shape.Batch ] ->
                {
                    Model =
                        match subject with
                        | Transformer _ -> "transformer"
                        | LateFusion _ -> "late fusion"
                    Config = name
                    Subject = subject
                    Shape = BatchShape(batch, shape.AudioSteps, shape.VideoFrames, shape.Words, shape.Characters)
                    Threads = 0
                }
    ]

/// The demo models as the main job trains them: one torch thread per process (two processes on two cores), compared
/// with the ceiling on one thread, sampled after every step as for the other cases.
let oneThreadCases =
    cases
    |> List.filter (fun c -> c.Config = "demo" && c.Shape.Batch = demoShape.Batch)
    |> List.map (fun c -> { c with Threads = 1 })

/// The ceiling the steps are compared with: an n×n by n×n fp32 matmul on all threads, timed on demand. Sampled
/// in blocks before and after the cases, and once right after every timed step, so that each step has a ceiling
/// measured under the same load (the machine is shared: other processes slow both down alike).
type Ceiling(n: int) =
    let a = torch.randn (int64 n, int64 n)
    let b = torch.randn (int64 n, int64 n)

    do
        for _ in 1..2 do
            torch.matmul(a, b).Dispose()

    member _.N = n

    /// GFLOP/s of one matmul.
    member _.Sample() =
        let clock = Stopwatch.StartNew()
        use c = torch.matmul (a, b)
        let seconds = clock.Elapsed.TotalSeconds
        float (Flops.SquareMatmul(int64 n)) / seconds / 1e9

    interface IDisposable with
        member _.Dispose() =
            a.Dispose()
            b.Dispose()

/// How many steps to time: at least MinSteps, more while their time is under MinSeconds, at most MaxSteps.
type Timing =
    {
        Warmup: int
        MinSteps: int
        MinSeconds: float
        MaxSteps: int
    }

/// The step's matrix products alone (transformer cases): every product of a training step at its shape
/// (Flops.MultiTaskProducts, three per forward product), run back to back on random operands with libtorch's mm or
/// bmm, each pass followed by a ceiling sample. The rate they reach bounds what the step could reach if everything
/// else in it (element-wise ops, copies, softmax, layer norms, dropout, autograd, the optimiser) cost nothing.
type ProductsAlone =
    {
        /// Products of one step, and how many distinct shapes among them.
        Count: int
        Shapes: int
        /// Milliseconds of each pass over all of them.
        Milliseconds: float list
        /// The matmul ceiling (GFLOP/s) sampled right after each pass.
        PairedCeiling: float list
    }

/// What the step costs besides its matrix products, whatever their arithmetic (transformer cases): the same step's
/// operations at minimal sizes (BenchPhases.minimal: the call, dispatch, allocation and autograd bookkeeping of every
/// op) less that small step's own products timed alone (their calls are in ProductsAlone already), plus how much the
/// optimiser's one pass over the parameters grows from minimal to full size. Products alone plus this floor is the
/// least the step can take while it runs as these libtorch operations one by one, with every element-wise op,
/// softmax, layer norm, dropout mask and the CTC loss free.
type Floor =
    {
        /// Milliseconds of each minimal-size step (the sum of TrainStep's phases).
        MinimalStep: float list
        /// Milliseconds of each pass over the minimal-size step's products alone.
        MinimalProducts: float list
        /// The optimiser phase (gradient clipping and Adam, one pass) in each full-size step, ms.
        Optimiser: float list
        /// The same in each minimal-size step.
        MinimalOptimiser: float list
    }

/// What one case measured.
type Measured =
    {
        Case: Case
        Parameters: int64
        Flops: FlopCount
        /// Milliseconds of each timed step.
        Milliseconds: float list
        /// The matmul ceiling (GFLOP/s) sampled right after each timed step.
        PairedCeiling: float list
        /// 1-minute load average when the case started.
        LoadAverage: float
        /// Share of the case's wall time in which some task waited for a CPU (None where not reported).
        CpuStall: float option
        /// The step's matrix products timed alone (transformer cases).
        ProductsAlone: ProductsAlone option
        /// What the step costs besides them (transformer cases).
        Floor: Floor option
    }

/// Achieved GFLOP/s of each timed step (analytic training-step FLOPs / time).
let achieved (m: Measured) =
    m.Milliseconds
    |> List.map (fun ms -> float m.Flops.TrainingStep / (ms / 1000.0) / 1e9)

/// Each timed step's achieved FLOP/s over the ceiling sampled right after it.
let fractions (m: Measured) =
    List.map2 (fun rate ceiling -> rate / ceiling) (achieved m) m.PairedCeiling

/// The same, counting the step as autograd runs it (no gradient with respect to the features).
let fractionsWithoutDataGradients (m: Measured) =
    let scale =
        float m.Flops.TrainingStepWithoutDataGradients / float m.Flops.TrainingStep

    fractions m |> List.map (fun x -> x * scale)

/// Times every product of a training step (Flops.MultiTaskProducts, three per forward product) back to back,
/// `passes` times after one warm-up pass, each pass followed by a ceiling sample. Operands are random, allocated once
/// per distinct shape and reused (warm in cache, as good as it gets); each product allocates its result, as in the step.
let timeProducts (products: MatrixProduct seq) (passes: int) (ceiling: Ceiling) : ProductsAlone =
    let all = products |> Seq.collect (fun p -> p.TrainingStep) |> List.ofSeq

    let groups = all |> List.countBy (fun p -> p.Batch, p.M, p.K, p.N)

    use scope = torch.NewDisposeScope()

    let operands =
        [
            for (b, m, k, n), count in groups ->
                if b = 1L then
                    torch.randn (m, k), torch.randn (k, n), count, false
                else
                    torch.randn ([| b; m; k |]), torch.randn ([| b; k; n |]), count, true
        ]

    let pass () =
        let mutable total = 0.0

        for a, c, count, batched in operands do
            for _ in 1..count do
                let clock = Stopwatch.StartNew()

                use r = if batched then torch.bmm (a, c) else torch.mm (a, c)

                total <- total + clock.Elapsed.TotalMilliseconds

        total

    pass () |> ignore

    let samples =
        [
            for _ in 1..passes do
                let ms = pass ()
                ms, ceiling.Sample()
        ]

    {
        Count = all.Length
        Shapes = groups.Length
        Milliseconds = List.map fst samples
        PairedCeiling = List.map snd samples
    }

/// Each pass's rate (the step's analytic FLOPs / the products' time) over the ceiling sampled right after it.
let productFractions (m: Measured) =
    match m.ProductsAlone with
    | Some p -> List.map2 (fun ms ceiling -> float m.Flops.TrainingStep / (ms / 1000.0) / 1e9 / ceiling) p.Milliseconds p.PairedCeiling
    | None -> []

/// The floor's parts in ms (medians): the fixed per-step cost (minimal step less its products) and the optimiser's
/// growth; and the floor itself, products alone (median pass) plus both.
let floorParts (m: Measured) =
    match m.ProductsAlone, m.Floor with
    | Some p, Some f ->
        let median what xs = (BenchStats.spread what xs).Median

        let fixedCost =
            median "minimal step" f.MinimalStep
            - median "minimal products" f.MinimalProducts

        let optimiser =
            median "optimiser" f.Optimiser - median "minimal optimiser" f.MinimalOptimiser

        Some(fixedCost, optimiser, median "products alone" p.Milliseconds + fixedCost + optimiser)
    | _ -> None

/// The most of the ceiling the step can reach at its floor: the step's FLOPs over the floor's time, over the ceiling's
/// median sampled after the products' passes.
let floorFraction (m: Measured) =
    match m.ProductsAlone, floorParts m with
    | Some p, Some(_, _, floorMs) ->
        Some(
            float m.Flops.TrainingStep
            / (floorMs / 1000.0)
            / 1e9
            / (BenchStats.spread "paired ceiling" p.PairedCeiling).Median
        )
    | _ -> None

/// Measures a transformer case's floor (see Floor) on the threads it runs on: `repeats` minimal and full steps, and
/// `passes` passes over the minimal step's products.
let measureFloor (c: ModelConfig) (shape: BatchShape) (warmup: int) (repeats: int) (seed: int) (ceiling: Ceiling) : Floor =
    let small = BenchPhases.minimal c

    let smallPhases =
        BenchPhases.phases small BenchPhases.minimalShape warmup repeats seed

    let smallProducts =
        timeProducts (Flops.MultiTaskProducts(small, BenchPhases.minimalShape)) repeats ceiling

    let full = BenchPhases.phases c shape warmup repeats seed

    {
        MinimalStep = smallPhases.Total
        MinimalProducts = smallProducts.Milliseconds
        Optimiser = full.Optimiser
        MinimalOptimiser = smallPhases.Optimiser
    }

/// Times training steps of a case (see Timing) after warm-up; every step has its own dispose scope (TrainStep.Run),
/// and a GC every 3 steps, outside the timed region, keeps memory flat (../shared/ENVIRONMENT.md).
let private measureOn (case: Case) (timing: Timing) (seed: int) (ceiling: Ceiling) : Measured =
    let load = loadAverage ()
    let stall0 = cpuStallMicroseconds ()
    let wall = Stopwatch.StartNew()
    torch.manual_seed (int64 seed) |> ignore

    let model, taskModel, criterion, schedule, dataConfig, flops =
        match case.Subject with
        | Transformer c ->
            let m = new MultiTaskModel(c)
            // As the smoke run: peak learning rate near 1e-3 after 4 warm-up steps at d 512.
            m :> torch.nn.Module,
            m :> ITaskModel,
            MultiTaskCriterion.For c,
            LearningRateSchedule(0.05, c.DModel, 4),
            c,
            Flops.MultiTask(c, case.Shape)
        | LateFusion c ->
            let m = new LateFusionModel(c)

            let data =
                ModelConfig(AudioDim = c.AudioDim, VideoDim = c.VideoDim, TextDim = c.TextDim, Emotions = c.Emotions)

            m :> torch.nn.Module,
            m :> ITaskModel,
            MultiTaskCriterion(TaskWeights.EmotionOnly),
            LearningRateSchedule(1e-3, 1, 1),
            data,
            Flops.LateFusion(c, case.Shape)

    use _ = model
    let parameters = model.parameters () |> Seq.sumBy (fun p -> p.numel ())
    use scope = torch.NewDisposeScope()

    let struct (input, targets) =
        SyntheticBatch.Create(dataConfig, case.Shape, seed, torch.CPU)

    let step = TrainStep(taskModel, criterion, schedule)
    let times = ResizeArray<float>()
    let paired = ResizeArray<float>()
    let mutable steps = 0

    let moreNeeded () =
        steps < timing.Warmup
        || times.Count < timing.MinSteps
        || (Seq.sum times < 1000.0 * timing.MinSeconds && times.Count < timing.MaxSteps)

    while moreNeeded () do
        let r = step.Run(input, targets)
        steps <- steps + 1

        if steps > timing.Warmup then
            times.Add r.Milliseconds
            paired.Add(ceiling.Sample())

        if steps % 3 = 0 then
            GC.Collect()

    let stall =
        match stall0, cpuStallMicroseconds () with
        | Some s0, Some s1 -> Some((s1 - s0) / (wall.Elapsed.TotalMilliseconds * 1000.0))
        | _ -> None

    let productsAlone =
        match case.Subject with
        | Transformer c -> Some(timeProducts (Flops.MultiTaskProducts(c, case.Shape)) (max 3 timing.MinSteps) ceiling)
        | LateFusion _ -> None

    let floor =
        match case.Subject with
        | Transformer c -> Some(measureFloor c case.Shape timing.Warmup (max 5 timing.MinSteps) seed ceiling)
        | LateFusion _ -> None

    {
        Case = case
        Parameters = parameters
        Flops = flops
        Milliseconds = List.ofSeq times
        PairedCeiling = List.ofSeq paired
        LoadAverage = load
        CpuStall = stall
        ProductsAlone = productsAlone
        Floor = floor
    }

/// Times one case on its threads (the run's unless it says), the paired ceiling samples on the same.
let measure (case: Case) (timing: Timing) (seed: int) (ceiling: Ceiling) : Measured =
    let runThreads = torch.get_num_threads ()

    if case.Threads > 0 then
        TorchRuntime.Initialize case.Threads

    try
        measureOn case timing seed ceiling
    finally
        TorchRuntime.Initialize runThreads

let private shapeJson (s: BatchShape) =
    JsonObject(
        dict
            [
                "batch", JsonValue.Create s.Batch :> JsonNode
                "audio_steps", JsonValue.Create s.AudioSteps
                "video_frames", JsonValue.Create s.VideoFrames
                "words", JsonValue.Create s.Words
                "characters", JsonValue.Create s.Characters
            ]
    )

let private configJson (subject: Subject) =
    let o = JsonObject()

    let add (name: string) (v: JsonNode) = o[name] <- v

    match subject with
    | Transformer c ->
        add "d_model" (JsonValue.Create c.DModel)
        add "heads" (JsonValue.Create c.Heads)
        add "feed_forward" (JsonValue.Create c.FeedForward)
        add "audio_layers" (JsonValue.Create c.AudioLayers)
        add "cross_modal_layers" (JsonValue.Create c.CrossModalLayers)
        add "decoder_layers" (JsonValue.Create c.DecoderLayers)
        add "inputs" (JsonValue.Create $"{c.AudioDim}/{c.VideoDim}/{c.TextDim}")
        add "speakers" (JsonValue.Create c.Speakers)
        add "tasks" (JsonValue.Create $"{c.Tasks}")
        add "modalities" (JsonValue.Create $"{c.Modalities}")
        add "dropout" (JsonValue.Create c.Dropout)
    | LateFusion c ->
        add "hidden" (JsonValue.Create c.Hidden)
        add "layers" (JsonValue.Create c.Layers)
        add "fusion_dim" (JsonValue.Create c.FusionDim)
        add "inputs" (JsonValue.Create $"{c.AudioDim}/{c.VideoDim}/{c.TextDim}")
        add "emotions" (JsonValue.Create c.Emotions)
        add "dropout" (JsonValue.Create c.Dropout)

    o

let private optional (v: float option) =
    match v with
    | Some x -> JsonValue.Create x :> JsonNode
    | None -> null

let private percent (v: float option) =
    match v with
    | Some x -> $"%.0f{100.0 * x} %%"
    | None -> "-"

/// One measured case as JSON: settings, shape, FLOPs by part, and every timed step's figures.
let caseJson (m: Measured) =
    let share, _, _ = summary (fractions m)

    JsonObject(
        dict
            [
                "model", JsonValue.Create m.Case.Model :> JsonNode
                "config", JsonValue.Create m.Case.Config
                "threads",
                JsonValue.Create(
                    if m.Case.Threads > 0 then
                        m.Case.Threads
                    else
                        torch.get_num_threads ()
                )
                "settings", configJson m.Case.Subject
                "shape", shapeJson m.Case.Shape
                "parameters", JsonValue.Create m.Parameters
                "forward_flops_by_part",
                JsonObject(
                    m.Flops.Parts
                    |> Seq.map (fun p -> Collections.Generic.KeyValuePair(p.Name, JsonValue.Create p.Forward :> JsonNode))
                )
                "forward_flops", JsonValue.Create m.Flops.Forward
                "step_flops", JsonValue.Create m.Flops.TrainingStep
                "step_flops_without_data_gradients", JsonValue.Create m.Flops.TrainingStepWithoutDataGradients
                "ms_per_step", BenchStats.sampleJson "ms per step" m.Milliseconds
                "achieved_gflops", BenchStats.sampleJson "GFLOP/s" (achieved m)
                "paired_ceiling_gflops", BenchStats.sampleJson "paired ceiling" m.PairedCeiling
                "fraction_of_paired_ceiling", BenchStats.sampleJson "fraction of ceiling" (fractions m)
                "fraction_of_paired_ceiling_median", JsonValue.Create share
                "fraction_of_paired_ceiling_without_data_gradients",
                BenchStats.sampleJson "fraction of ceiling" (fractionsWithoutDataGradients m)
                "load_average_1m_at_start", JsonValue.Create m.LoadAverage
                "cpu_stall_share", optional m.CpuStall
                "products_alone",
                match m.ProductsAlone with
                | Some p ->
                    JsonObject(
                        dict
                            [
                                "what",
                                JsonValue.Create
                                    "every matrix product of the step (3 per forward product) at its shape, back to back with mm/bmm on random operands; the step's analytic FLOPs / their time, over the ceiling sampled after each pass"
                                :> JsonNode
                                "products", JsonValue.Create p.Count
                                "distinct_shapes", JsonValue.Create p.Shapes
                                "ms_per_pass", BenchStats.sampleJson "ms per pass" p.Milliseconds
                                "paired_ceiling_gflops", BenchStats.sampleJson "paired ceiling" p.PairedCeiling
                                "fraction_of_paired_ceiling", BenchStats.sampleJson "fraction of ceiling" (productFractions m)
                            ]
                    )
                    :> JsonNode
                | None -> null
                "floor",
                match m.Floor, floorParts m, floorFraction m with
                | Some f, Some(fixedCost, optimiser, floorMs), Some fraction ->
                    JsonObject(
                        dict
                            [
                                "what",
                                JsonValue.Create
                                    "products alone + the same step's operations at minimal sizes less their own products + the optimiser pass's growth from minimal to full size: the least the step takes as these libtorch operations one by one with every other kernel free"
                                :> JsonNode
                                "minimal_step_ms", BenchStats.sampleJson "minimal step" f.MinimalStep
                                "minimal_products_ms", BenchStats.sampleJson "minimal products" f.MinimalProducts
                                "optimiser_ms", BenchStats.sampleJson "optimiser" f.Optimiser
                                "minimal_optimiser_ms", BenchStats.sampleJson "minimal optimiser" f.MinimalOptimiser
                                "fixed_per_step_ms", JsonValue.Create fixedCost
                                "optimiser_growth_ms", JsonValue.Create optimiser
                                "floor_ms", JsonValue.Create floorMs
                                "floor_fraction_of_ceiling", JsonValue.Create fraction
                            ]
                    )
                    :> JsonNode
                | _ -> null
            ]
    )

/// Entry point: samples the ceiling, measures every case, samples the ceiling again; writes the JSON; prints a table.
let main (argv: string array) : int =
    let f = Cli.parseUsage usage argv

    let root = repoRoot ()

    let timing =
        {
            Warmup = f.Int("warmup", 2)
            MinSteps = f.Int("repeats", 7)
            MinSeconds = float (f.Int("min-seconds", 3))
            MaxSteps = f.Int("max-steps", 40)
        }

    let matmulRepeats = f.Int("matmul-repeats", 10)
    let threads = f.Int("threads", Environment.ProcessorCount)
    let seed = f.Int("seed", 1)
    let out = f.Get("out", IO.Path.Combine(root, "benchmarks", "step.json"))

    if
        timing.MinSteps < 1
        || timing.Warmup < 0
        || matmulRepeats < 1
        || timing.MaxSteps < timing.MinSteps
    then
        raise (Cli.UsageError "--repeats and --matmul-repeats must be at least 1, --warmup at least 0, --max-steps at least --repeats")

    TorchRuntime.Initialize threads
    let load0 = loadAverage ()
    let stall0 = cpuStallMicroseconds ()
    let wall = Stopwatch.StartNew()
    use ceiling = new Ceiling(2048)
    let n = ceiling.N

    printfn
        "training-step benchmark: %d threads; per case %d warm-up steps, then %d-%d timed steps (at least %.0f s)"
        threads
        timing.Warmup
        timing.MinSteps
        timing.MaxSteps
        timing.MinSeconds

    let before = List.init matmulRepeats (fun _ -> ceiling.Sample())
    let b0, _, _ = summary before
    printfn "matmul %dx%d fp32: median %.0f GFLOP/s" n n b0

    let measured =
        [
            for case in cases ->
                let m = measure case timing seed ceiling
                let ms, lo, hi = summary m.Milliseconds
                let share, _, _ = summary (fractions m)

                printfn
                    "  %-12s %-5s batch %2d: %7.0f ms/step (%.0f-%.0f, %d steps), %.0f %% of the paired ceiling; CPU stall %s"
                    case.Model
                    case.Config
                    case.Shape.Batch
                    ms
                    lo
                    hi
                    m.Milliseconds.Length
                    (100.0 * share)
                    (percent m.CpuStall)

                match floorParts m, floorFraction m with
                | Some(fixedCost, optimiser, floorMs), Some fraction ->
                    printfn
                        "    floor %.1f ms (products alone + fixed per-step cost %.1f ms + optimiser %.1f ms): at most %.0f %% of the ceiling"
                        floorMs
                        fixedCost
                        optimiser
                        (100.0 * fraction)
                | _ -> ()

                m
        ]

    let after = List.init matmulRepeats (fun _ -> ceiling.Sample())

    let allCeiling =
        before @ after @ (measured |> List.collect (fun m -> m.PairedCeiling))

    let ceilingMedian, ceilingLo, ceilingHi = summary allCeiling
    let load1 = loadAverage ()

    let stall =
        match stall0, cpuStallMicroseconds () with
        | Some s0, Some s1 -> Some((s1 - s0) / (wall.Elapsed.TotalMilliseconds * 1000.0))
        | _ -> None

    let torchSharp =
        typeof<torch>.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>().InformationalVersion

    let json =
        JsonObject(
            dict
                [
                    "benchmark",
                    JsonValue.Create "training step (forward, loss, backward, clip, Adam) via TrainStep on a SyntheticBatch, fp32 CPU"
                    :> JsonNode
                    "command", JsonValue.Create(("dotnet fsi scripts/bench-step.fsx " + String.Join(" ", argv)).Trim())
                    "date", JsonValue.Create(DateTime.UtcNow.ToString "o")
                    "commit", JsonValue.Create(gitCommit root)
                    "machine",
                    JsonObject(
                        dict
                            [
                                "cpu", JsonValue.Create(cpuModel ()) :> JsonNode
                                "logical_cores", JsonValue.Create Environment.ProcessorCount
                                "threads", JsonValue.Create threads
                                "os", JsonValue.Create RuntimeInformation.OSDescription
                                "dotnet", JsonValue.Create RuntimeInformation.FrameworkDescription
                                "torchsharp", JsonValue.Create torchSharp
                                "load_average_1m_before", JsonValue.Create load0
                                "load_average_1m_after", JsonValue.Create load1
                                "cpu_stall_share", optional stall
                            ]
                    )
                    "conventions",
                    JsonValue.Create(
                        "FLOPs = 2 x multiply-adds of matrix products only (every Linear, attention QK^T and AV, GRU gate "
                        + "products); elementwise work ignored; transformer on padded shapes, GRUs on valid steps (packed); "
                        + "training step = 3 x forward (step_flops_without_data_gradients: minus the gradient with respect to "
                        + "the features, which autograd does not form); Adam not counted. Times: median/min/max over the timed steps after "
                        + "warm-up. fraction_of_paired_ceiling: each step's achieved FLOP/s over the matmul sampled right "
                        + "after it. cpu_stall_share: share of wall time in which some task waited for a CPU (/proc/pressure/cpu)."
                    )
                    "timing",
                    JsonObject(
                        dict
                            [
                                "warmup_steps", JsonValue.Create timing.Warmup :> JsonNode
                                "min_timed_steps", JsonValue.Create timing.MinSteps
                                "min_timed_seconds", JsonValue.Create timing.MinSeconds
                                "max_timed_steps", JsonValue.Create timing.MaxSteps
                                "seed", JsonValue.Create seed
                            ]
                    )
                    "matmul_ceiling",
                    JsonObject(
                        dict
                            [
                                "what", JsonValue.Create $"{n}x{n} fp32 matmul, {threads} threads, GFLOP/s = 2n^3 / time" :> JsonNode
                                "gflops_before", BenchStats.sampleJson "ceiling" before
                                "gflops_after", BenchStats.sampleJson "ceiling" after
                                "gflops_all", BenchStats.sampleJson "ceiling" allCeiling
                            ]
                    )
                    "cases", JsonArray(measured |> List.map (fun m -> caseJson m :> JsonNode) |> Array.ofList)
                ]
        )

    writeJson out json
    let a0, _, _ = summary after

    printfn ""

    printfn
        "matmul %dx%d fp32 ceiling: median %.0f GFLOP/s over %d samples (min %.0f, max %.0f; before the cases %.0f, after %.0f)"
        n
        n
        ceilingMedian
        allCeiling.Length
        ceilingLo
        ceilingHi
        b0
        a0

    printfn ""

    printfn
        "| model | config | batch | parameters | GFLOP/step (3x fwd / autograd) | ms/step median (min-max) | GFLOP/s (3x fwd) | %% of paired ceiling (3x fwd / autograd) | CPU stall |"

    printfn "|---|---|---:|---:|---:|---:|---:|---:|---:|"

    for m in measured do
        let ms, lo, hi = summary m.Milliseconds
        let rate, _, _ = summary (achieved m)
        let share, _, _ = summary (fractions m)
        let shareAutograd, _, _ = summary (fractionsWithoutDataGradients m)

        printfn
            "| %s | %s | %d | %s | %.1f / %.1f | %.0f (%.0f-%.0f) | %.0f | %.0f %% / %.0f %% | %s |"
            m.Case.Model
            m.Case.Config
            m.Case.Shape.Batch
            (m.Parameters.ToString "N0")
            (float m.Flops.TrainingStep / 1e9)
            (float m.Flops.TrainingStepWithoutDataGradients / 1e9)
            ms
            lo
            hi
            rate
            (100.0 * share)
            (100.0 * shareAutograd)
            (percent m.CpuStall)

    printfn ""

    printfn "wrote %s (load average %.1f before, %.1f after; CPU stall %s of the run)" out load0 load1 (percent stall)

    0
