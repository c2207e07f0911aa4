/// The paper's two baselines (§4.1, Table 1): late fusion of per-modality BiGRUs, and the cross-modal transformer
/// trained on emotions from scratch.
module Research.Experiments.Baseline

open System.IO
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Experiments.Config

let usage =
    "usage: dotnet fsi scripts/baseline.fsx --model late-fusion|transformer [--preset demo|paper | --config FILE.json]\n"
    + "       [--set PATH=VALUE ...] [--runs DIR]; a finished run is reused, an unfinished one resumes.\n"
    + "       (help: dotnet fsi scripts/baseline.fsx -- --help)"

/// Trains (or resumes, or reuses) the late-fusion baseline of `c` under `runs`.
let runLateFusion (runs: string) (c: LateFusion) : FineTune.Result =
    TorchRuntime.Initialize c.Threads
    let path = Path.GetFullPath(Path.Combine(runs, c.Name))

    if RunFolder.IsDone path then
        printfn "late fusion %s: finished run reused (%s)" c.Name path
        FineTune.readResult path
    else
        use folder = RunFolder.OpenOrResume(path, c, c.Seed, RunInfo.Capture())
        let device = Devices.Resolve c.Device

        let config =
            LateFusionConfig(
                AudioDim = c.Inputs.AudioDim,
                VideoDim = c.Inputs.VideoDim,
                TextDim = c.Inputs.TextDim,
                Hidden = c.Hidden,
                Layers = c.Layers,
                FusionDim = c.FusionDim,
                Dropout = c.Dropout
            )

        torch.manual_seed (int64 c.Seed) |> ignore
        use model = new LateFusionModel(config)
        model.``to`` device |> ignore
        let criterion = FineTune.emotionCriterion c.Stores c.PositiveWeights device
        // The schedule's d^-0.5 uses the fused width (FusionDim) as the model dimension.
        let schedule = LearningRateSchedule(c.Budget.LrFactor, c.FusionDim, c.Budget.Warmup)
        let step = TrainStep(model, criterion, schedule, c.Budget.ClipNorm)
        printfn "late fusion %s: BiGRU %d x %d per modality, %d steps of %d" c.Name c.Layers c.Hidden c.Budget.Steps c.Budget.BatchSize
        FineTune.trainAndScore folder (c.Stores, c.Budget, c.Seed, c.Device) model model.EmotionLogits step (toJson c)

/// Entry point: --model late-fusion or transformer (from scratch).
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        let f = Cli.parse [ "model"; "preset"; "config"; "set"; "runs" ] argv
        let runs = f.Get("runs", "runs")

        let name, result =
            match f.Get("model", "") with
            | "late-fusion" ->
                let c = resolve [ "demo", demoLateFusion; "paper", paperLateFusion ] f
                c.Name, runLateFusion runs c
            | "transformer" ->
                let c =
                    resolve [ "demo", scratch demoFineTuning; "paper", scratch paperFineTuning ] f

                c.Name, FineTune.run runs c
            | other -> raise (Cli.UsageError $"--model: expected late-fusion or transformer, got '{other}'")

        printfn "%s: test average WA %.4f, F1 %.4f" name result.Test.AverageWA result.Test.AverageF1
        0
