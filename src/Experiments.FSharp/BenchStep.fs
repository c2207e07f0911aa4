/// The training-step benchmark: milliseconds per training step (forward, backward, gradient clipping, Adam, through
/// TrainStep on a SyntheticBatch) of the transformer and the late-fusion baseline, at the paper's and a demo size, two
/// batch sizes each; the achieved FLOP/s from the analytic count (Flops.cs); and, in the same run, the fp32 matmul
/// ceiling the step is compared with. Writes benchmarks/step.json. A measurement, not a test: numbers depend on the
/// machine and on what else runs on it (the load average is recorded).
module Research.Experiments.BenchStep

open System
open System.Diagnostics
open System.Reflection
open System.Runtime.InteropServices
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Experiments.Machine

let usage =
    "usage: dotnet fsi scripts/bench-step.fsx [--repeats 7] [--warmup 2] [--matmul-repeats 10] [--threads N] [--seed 1] [--out benchmarks/step.json]\n"
    + "       (help: dotnet fsi scripts/bench-step.fsx -- --help)"

/// The paper's batch (§4.1 sizes): 8 utterances of 160 stacked audio frames (8 s), 200 video frames, 20 words, 100 characters.
let paperShape =
    BatchShape(Batch = 8, AudioSteps = 160, VideoFrames = 200, Words = 20, Characters = 100)

/// A demo batch: 16 utterances of 60 stacked audio frames (3 s, the demo corpus's typical utterance), 30 video
/// frames (10 frames/s), 10 words, 40 characters.
let demoShape =
    BatchShape(Batch = 16, AudioSteps = 60, VideoFrames = 30, Words = 10, Characters = 40)

/// The demo-sized transformer: a quarter of the paper's width (d 128, feed-forward 256 — wider than d, as usual
/// at this size, where the paper's 200 < 512 is unusual), half its depth (2 audio, 2 per cross-modal branch,
/// 1 decoder layer), the paper's 4 heads (the head count does not change the FLOPs), the demo's 1024-d visual
/// feature and its 120 pre-training speakers. Pre-training tasks (ASR 0.8, speaker 0.2), as the paper's case.
let demoConfig =
    ModelConfig(
        DModel = 128,
        Heads = 4,
        FeedForward = 256,
        AudioLayers = 2,
        CrossModalLayers = 2,
        DecoderLayers = 1,
        VideoDim = 1024,
        Speakers = 120
    )

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
                }
    ]

/// GFLOP/s of an n×n fp32 matmul (all threads), once per repetition after warm-up.
let matmulGflops (n: int) (warmup: int) (repeats: int) : float list =
    use _ = torch.NewDisposeScope()
    let a = torch.randn (int64 n, int64 n)
    let b = torch.randn (int64 n, int64 n)

    for _ in 1..warmup do
        torch.matmul(a, b).Dispose()

    [
        for _ in 1..repeats ->
            let clock = Stopwatch.StartNew()
            use c = torch.matmul (a, b)
            let seconds = clock.Elapsed.TotalSeconds
            float (Flops.SquareMatmul(int64 n)) / seconds / 1e9
    ]

/// What one case measured.
type Measured =
    {
        Case: Case
        Parameters: int64
        Flops: FlopCount
        /// Milliseconds of each timed step.
        Milliseconds: float list
        /// 1-minute load average when the case started (other processes on the machine slow it down).
        LoadAverage: float
    }

/// Times `repeats` training steps of a case after `warmup` steps; a GC every 3 steps (outside the timed region)
/// keeps memory flat (../shared/ENVIRONMENT.md), and every step has its own dispose scope (TrainStep.Run).
let measure (case: Case) (warmup: int) (repeats: int) (seed: int) : Measured =
    let load = loadAverage ()
    torch.manual_seed (int64 seed) |> ignore

    let model, taskModel, criterion, schedule, dataConfig, flops =
        match case.Subject with
        | Transformer c ->
            let m = new MultiTaskModel(c)
            // As the smoke run: peak learning rate near 1e-3 after 4 warm-up steps at d 512.
            m :> torch.nn.Module,
            m :> ITaskModel,
            MultiTaskCriterion(c.Tasks, c.LabelSmoothing),
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

    let times =
        [
            for i in 1 .. warmup + repeats do
                let r = step.Run(input, targets)

                if i % 3 = 0 then
                    GC.Collect()

                if i > warmup then
                    yield r.Milliseconds
        ]

    {
        Case = case
        Parameters = parameters
        Flops = flops
        Milliseconds = times
        LoadAverage = load
    }

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

/// Achieved GFLOP/s of each timed step.
let achieved (m: Measured) =
    m.Milliseconds
    |> List.map (fun ms -> float m.Flops.TrainingStep / (ms / 1000.0) / 1e9)

/// Entry point: measures the ceiling, every case, the ceiling again; writes the JSON; prints a table.
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        let f =
            Cli.parse [ "repeats"; "warmup"; "matmul-repeats"; "threads"; "seed"; "out" ] argv

        let root = repoRoot ()
        let repeats = f.Int("repeats", 7)
        let warmup = f.Int("warmup", 2)
        let matmulRepeats = f.Int("matmul-repeats", 10)
        let threads = f.Int("threads", Environment.ProcessorCount)
        let seed = f.Int("seed", 1)
        let out = f.Get("out", IO.Path.Combine(root, "benchmarks", "step.json"))

        if repeats < 1 || warmup < 0 || matmulRepeats < 1 then
            raise (Cli.UsageError "--repeats and --matmul-repeats must be at least 1, --warmup at least 0")

        TorchRuntime.Initialize threads
        let n = 2048
        let load0 = loadAverage ()
        printfn "training-step benchmark: %d threads, %d warm-up + %d timed steps per case" threads warmup repeats
        let before = matmulGflops n 2 matmulRepeats
        let c0, _, _ = summary before
        printfn "matmul %dx%d fp32: median %.0f GFLOP/s" n n c0

        let measured =
            [
                for case in cases ->
                    let m = measure case warmup repeats seed
                    let ms, lo, hi = summary m.Milliseconds

                    printfn "  %-12s %-5s batch %2d: %7.0f ms/step (%.0f-%.0f)" case.Model case.Config case.Shape.Batch ms lo hi

                    m
            ]

        let after = matmulGflops n 2 matmulRepeats
        let ceilingRuns = before @ after
        let ceiling, ceilingLo, ceilingHi = summary ceilingRuns
        let load1 = loadAverage ()

        let torchSharp =
            typeof<torch>.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>().InformationalVersion

        let caseJson (m: Measured) =
            let rate = achieved m
            let rateMedian, _, _ = summary rate

            JsonObject(
                dict
                    [
                        "model", JsonValue.Create m.Case.Model :> JsonNode
                        "config", JsonValue.Create m.Case.Config
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
                        "ms_per_step", stats m.Milliseconds
                        "achieved_gflops", stats rate
                        "fraction_of_ceiling_median", JsonValue.Create(rateMedian / ceiling)
                        "load_average_1m_at_start", JsonValue.Create m.LoadAverage
                    ]
            )

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
                                ]
                        )
                        "conventions",
                        JsonValue.Create(
                            "FLOPs = 2 x multiply-adds of matrix products only (every Linear, attention QK^T and AV, GRU gate "
                            + "products); elementwise work ignored; transformer on padded shapes, GRUs on valid steps (packed); "
                            + "training step = 3 x forward; Adam not counted. Times: median/min/max over the timed steps after warm-up."
                        )
                        "timing",
                        JsonObject(
                            dict
                                [
                                    "warmup_steps", JsonValue.Create warmup :> JsonNode
                                    "timed_steps", JsonValue.Create repeats
                                    "seed", JsonValue.Create seed
                                ]
                        )
                        "matmul_ceiling",
                        JsonObject(
                            dict
                                [
                                    "what", JsonValue.Create $"{n}x{n} fp32 matmul, {threads} threads, GFLOP/s = 2n^3 / time" :> JsonNode
                                    "gflops_before", stats before
                                    "gflops_after", stats after
                                    "gflops", stats ceilingRuns
                                ]
                        )
                        "cases", JsonArray(measured |> List.map (fun m -> caseJson m :> JsonNode) |> Array.ofList)
                    ]
            )

        writeJson out json

        printfn ""

        printfn
            "matmul %dx%d fp32 ceiling: median %.0f GFLOP/s (min %.0f, max %.0f; before %.0f, after %.0f)"
            n
            n
            ceiling
            ceilingLo
            ceilingHi
            c0
            (let a, _, _ = summary after in a)

        printfn ""
        printfn "| model | config | batch | parameters | GFLOP/step | ms/step median (min-max) | GFLOP/s | %% of ceiling |"
        printfn "|---|---|---:|---:|---:|---:|---:|---:|"

        for m in measured do
            let ms, lo, hi = summary m.Milliseconds
            let rate, _, _ = summary (achieved m)

            printfn
                "| %s | %s | %d | %s | %.1f | %.0f (%.0f-%.0f) | %.1f | %.1f %% |"
                m.Case.Model
                m.Case.Config
                m.Case.Shape.Batch
                (m.Parameters.ToString "N0")
                (float m.Flops.TrainingStep / 1e9)
                ms
                lo
                hi
                rate
                (100.0 * rate / ceiling)

        printfn ""
        printfn "wrote %s (load average %.1f before, %.1f after)" out load0 load1
        0
