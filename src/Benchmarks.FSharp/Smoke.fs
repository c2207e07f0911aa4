/// The smoke run: build the paper-shaped model, train it briefly on generated batches, print every loss
/// term and the time per step. It proves the toolchain end to end; it learns nothing about emotions.
module Research.Benchmarks.Smoke

open System
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Runtime
open Research.Model.Training
open Research.Commands

/// What a smoke run trains on and for how long.
type Settings =
    {
        /// "paper" (d 512, the paper's sizes) or "tiny" (seconds on any machine).
        Config: string
        Steps: int
        /// Steps before timing starts (allocator and thread-pool warm-up).
        Warmup: int
        Batch: int
        Device: string
        Threads: int
        Seed: int
    }

let defaults =
    {
        Config = "paper"
        Steps = 6
        Warmup = 1
        Batch = 8
        Device = "cpu"
        Threads = Environment.ProcessorCount
        Seed = 1
    }

/// What `smoke` accepts.
let usage: Cli.Usage =
    {
        Script = "scripts/smoke.fsx"
        Synopsis = "[flags]"
        Summary = "The smoke run: the paper-shaped model trained briefly on generated batches, every loss term and the time per step."
        Flags =
            [
                Cli.flag "config" "paper|tiny" defaults.Config "model sizes (tiny: seconds on any machine)"
                Cli.flag "steps" "N" (string defaults.Steps) "training steps"
                Cli.flag "warmup" "N" (string defaults.Warmup) "steps before timing starts"
                Cli.flag "batch" "N" (string defaults.Batch) "utterances per batch"
                Cli.flag "device" "cpu|cuda" defaults.Device "where the model runs"
                Cli.flag "threads" "N" "the number of cores" "torch threads"
                Cli.flag "seed" "N" (string defaults.Seed) "seed of the model and the batches"
            ]
        Examples =
            [
                "dotnet fsi scripts/smoke.fsx"
                "dotnet fsi scripts/smoke.fsx -- --config tiny --steps 3"
            ]
        Notes = []
    }

/// The configuration named by --config, with all three tasks on so every head is exercised.
let configOf (name: string) =
    let allTasks = TaskWeights(0.8, 0.2, 1.0)

    match name with
    | "paper" -> ModelConfig(Tasks = allTasks)
    | "tiny" ->
        ModelConfig(
            DModel = 32,
            Heads = 2,
            FeedForward = 32,
            AudioLayers = 1,
            CrossModalLayers = 1,
            DecoderLayers = 1,
            Speakers = 16,
            Tasks = allTasks
        )
    | other -> raise (Cli.UsageError $"--config: unknown '{other}' (paper or tiny)")

let private fmt (v: Nullable<float>) =
    if v.HasValue then $"%.4f{v.Value}" else "-"

/// Runs the smoke training and prints one line per step and a summary; returns the step results.
let run (s: Settings) : StepResult list =
    TorchRuntime.Initialize s.Threads
    let device = Devices.Resolve s.Device
    let config = configOf s.Config
    torch.manual_seed (int64 s.Seed) |> ignore
    use model = new MultiTaskModel(config)
    model.``to`` device |> ignore
    let parameters = model.parameters () |> Seq.sumBy (fun p -> p.numel ())

    let shape =
        if s.Config = "paper" then
            BatchShape(Batch = s.Batch)
        else
            BatchShape(Batch = s.Batch, AudioSteps = 40, VideoFrames = 50, Words = 8, Characters = 30)

    printfn "TorchSharp: %s" TorchRuntime.Report

    printfn
        "model: %s config, %d parameters; batch %d x (audio %d, video %d, words %d, characters %d); device %s, %d threads"
        s.Config
        parameters
        shape.Batch
        shape.AudioSteps
        shape.VideoFrames
        shape.Words
        shape.Characters
        s.Device
        s.Threads

    let struct (input, targets) = SyntheticBatch.Create(config, shape, s.Seed, device)
    let criterion = MultiTaskCriterion.For config
    // k = 0.05 puts the peak learning rate near 1e-3 after 4 warm-up steps at d = 512: fast but stable.
    let step = TrainStep(model, criterion, LearningRateSchedule(0.05, config.DModel, 4))

    let results =
        [
            for _ in 1 .. s.Warmup + s.Steps do
                let r = step.Run(input, targets)

                printfn
                    "step %3d  lr %.2e  loss %.4f  asr %s  speaker %s  emotion %s  |grad| %.3f  %.0f ms"
                    r.Step
                    r.LearningRate
                    r.Total
                    (fmt r.Asr)
                    (fmt r.Speaker)
                    (fmt r.Emotion)
                    r.GradNorm
                    r.Milliseconds

                yield r
        ]

    let timed =
        results |> List.skip s.Warmup |> List.map (fun r -> r.Milliseconds) |> List.sort

    if not timed.IsEmpty then
        printfn
            "time per step after %d warm-up step(s): median %.0f ms, min %.0f ms, max %.0f ms over %d steps"
            s.Warmup
            timed[timed.Length / 2]
            timed.Head
            (List.last timed)
            timed.Length

    printfn "loss: first %.4f, last %.4f (one generated batch, repeated)" results.Head.Total (List.last results).Total
    results

/// Entry point: parses flags, runs, returns the exit code.
let main (argv: string array) : int =
    let f = Cli.parseUsage usage argv

    let s =
        {
            Config = f.Get("config", defaults.Config)
            Steps = f.Int("steps", defaults.Steps)
            Warmup = f.Int("warmup", defaults.Warmup)
            Batch = f.Int("batch", defaults.Batch)
            Device = f.Get("device", defaults.Device)
            Threads = f.Int("threads", defaults.Threads)
            Seed = f.Int("seed", defaults.Seed)
        }

    let results = run s

    if results |> List.forall (fun r -> Double.IsFinite r.Total) then
        0
    else
        1
