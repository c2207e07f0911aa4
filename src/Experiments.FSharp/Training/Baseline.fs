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

/// Trains (or resumes, or reuses) the late-fusion baseline of `c` under `runs` (see Runs: reused or resumed only
/// when its config, seed and inputs match; `request.Fresh` trains into a new folder beside it).
/// Under `mpirun` every rank calls it (data-parallel, as `Pretrain.run`).
let runLateFusion (runs: string) (request: Runs.Request) (c: LateFusion) : FineTune.Result =
    let comm = Runs.startRanks request c.Threads
    let lead = comm.Rank = 0
    let path = Runs.folder runs c.Name request

    let inputs =
        Runs.inputs request $"feature stores {Path.GetFullPath c.Stores}" (Runs.emotionStores c.Stores)

    use folder = if lead then Runs.openRun path c c.Seed inputs else null

    if (if lead then folder.IsFinished else RunFolder.IsDone path) then
        printfn "late fusion %s: finished run reused (%s)" c.Name path
        Stages.noteReused ()
        FineTune.readResult path
    else
        Stages.noteWork ()
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
        FineTune.trainAndScore comm path folder (c.Stores, c.Budget, c.Seed, c.Device) model model.EmotionLogits step (toJson c)

/// Trains the late-fusion baseline `c` as `ranks` data-parallel processes on this machine (see `Runs.launchRanks`);
/// returns the config and request under which `runLateFusion` then reuses the finished run.
let launchLateFusion (ranks: int) (runs: string) (request: Runs.Request) (c: LateFusion) =
    let name, request =
        Runs.launchRanks
            "baseline.fsx"
            "late fusion"
            ranks
            c.Budget.BatchSize
            runs
            request
            c.Name
            (fun name -> toJson { c with Name = name })
            [ "--model"; "late-fusion" ]

    { c with Name = name }, request
