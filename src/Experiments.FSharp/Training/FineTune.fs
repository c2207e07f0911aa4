/// Emotion recognition with the cross-modal transformer (paper §4.1): fine-tuned from a pre-trained encoder, or
/// trained from scratch (the "TF" baseline). Binary cross-entropy with per-emotion positive weights; the model is
/// chosen on dev by (average WA + average F1) / 2; thresholds come from dev; test is only scored.
module Research.Experiments.FineTune

open System
open System.IO
open System.Text
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Runtime
open Research.Experiments.Config

/// A finished emotion run: its folder and its dev and test reports (thresholds from dev).
type Result =
    {
        Run: string
        Dev: Metrics.Report
        Test: Metrics.Report
    }

let presets = [ "demo", demoFineTuning; "paper", paperFineTuning ]

/// Writes predictions in the `evaluate` command's CSV format (id, six labels, six scores), atomically.
let writePredictions (path: string) (ids: string array) (split: Metrics.Split) =
    let text = StringBuilder()
    text.AppendLine(String.Join(",", Evaluate.columns)) |> ignore

    for i in 0 .. ids.Length - 1 do
        let labels = split.Labels[i] |> Array.map (fun b -> if b then "1" else "0")

        let scores =
            split.Scores[i]
            |> Array.map (fun s -> s.ToString("R", Globalization.CultureInfo.InvariantCulture))

        text.AppendLine(String.Join(",", Array.concat [ [| "\"" + ids[i].Replace("\"", "\"\"") + "\"" |]; labels; scores ]))
        |> ignore

    let temp = path + ".tmp"
    File.WriteAllText(temp, text.ToString())
    File.Move(temp, path, true)

/// Scores of an emotion model on a source, as a metrics split (labels: intensity > 0).
let predict
    (name: string)
    (model: torch.nn.Module)
    (logits: EncoderInput -> torch.Tensor)
    (data: EmotionData)
    device
    batch
    : Metrics.Split =
    let p =
        Evaluation.EmotionProbabilities(model, Func<_, _>(logits), data, device, batch)

    let split: Metrics.Split =
        {
            Name = name
            Labels =
                [|
                    for i in 0 .. data.Count - 1 -> data.Intensities[i] |> Array.map (fun x -> x > 0.0f)
                |]
            Scores = p |> Array.map (Array.map float)
        }

    split

/// Positive-class weights negatives / positives per emotion of the training items ("weighted training", §4.1); 1
/// (unweighted) for an emotion with no positives or no negatives, where the ratio is undefined or 0 (a weight of 0
/// would switch the emotion's positive term off).
let positiveWeights (train: EmotionData) =
    let positives = train.Positives()

    [|
        for p in positives ->
            if p = 0 || p = train.Count then
                1.0f
            else
                float32 (train.Count - p) / float32 p
    |]

/// The emotion loss: binary cross-entropy, with per-emotion positive weights from the training store when asked.
let emotionCriterion (stores: string) (weighted: bool) (device: torch.Device) =
    let weights =
        if weighted then
            use trainStore = FeatureStore.Open(Path.Combine(stores, "train"))
            torch.tensor (positiveWeights (EmotionData trainStore), device = device)
        else
            null

    MultiTaskCriterion(TaskWeights.EmotionOnly, 0.0, weights)

/// Loads the encoder (audio encoder and cross-modal layers) of a finished pre-training run into `model` (sizes and
/// inputs must agree; the weights file must hold exactly the pre-training model's keys and shapes).
let loadPretrainedEncoder (pretrained: string) (model: MultiTaskModel) =
    if not (RunFolder.IsDone pretrained) then
        failwithf "pre-training run %s is not finished (run scripts/pretrain.fsx first)" pretrained

    let preConfig =
        Json.JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(Path.Combine(pretrained, Pretrain.modelConfigFile)))

    let mine = model.Config

    let same =
        [
            "DModel", preConfig.DModel, mine.DModel
            "Heads", preConfig.Heads, mine.Heads
            "FeedForward", preConfig.FeedForward, mine.FeedForward
            "AudioLayers", preConfig.AudioLayers, mine.AudioLayers
            "CrossModalLayers", preConfig.CrossModalLayers, mine.CrossModalLayers
            "AudioDim", preConfig.AudioDim, mine.AudioDim
            "VideoDim", preConfig.VideoDim, mine.VideoDim
            "TextDim", preConfig.TextDim, mine.TextDim
        ]

    match same |> List.filter (fun (_, a, b) -> a <> b) with
    | [] -> ()
    | diffs ->
        let text =
            diffs |> List.map (fun (n, a, b) -> $"{n} {a} vs {b}") |> String.concat ", "

        failwithf "pre-training run %s does not fit this model: %s" pretrained text

    use pre = new MultiTaskModel(preConfig)
    // Every key and shape is checked before anything is loaded: a missing or misshaped key is a named error.
    WeightsFile.LoadExact(pre, Path.Combine(pretrained, Pretrain.weightsFile))
    // The encoder options beyond the paper may differ between the runs (ModelConfig.AnySubset,
    // LearnedModalityWeights): the fine-tuning model keeps its own modality logits (initialised at its configured
    // weights, as the paper's fine-tuning sets its own), and a substitute-query norm the pre-trained encoder lacks
    // keeps its fresh initialisation. Every other key of the fine-tuning encoder must come from the pre-trained one.
    let optional =
        set [ "modality_logits"; "substitute_norm.weight"; "substitute_norm.bias" ]

    let source = pre.Encoder.state_dict ()
    let target = model.Encoder.state_dict ()

    let loaded =
        Collections.Generic.Dictionary<string, torch.Tensor>(
            source
            |> Seq.filter (fun kv -> target.ContainsKey kv.Key && kv.Key <> "modality_logits")
        )

    match
        target.Keys
        |> Seq.filter (fun k -> not (loaded.ContainsKey k || optional.Contains k))
        |> List.ofSeq
    with
    | [] -> ()
    | missing -> failwithf "pre-training run %s lacks encoder weights %s" pretrained (String.concat ", " missing)

    model.Encoder.load_state_dict (loaded, strict = false) |> ignore

/// Reads a finished emotion run's dev and test predictions back into reports.
let readResult (path: string) =
    let _, dev = Evaluate.readSplit (Path.Combine(path, "dev.csv"))
    let _, test = Evaluate.readSplit (Path.Combine(path, "test.csv"))

    {
        Run = path
        Dev = Metrics.devReport dev
        Test = Metrics.evaluate dev test
    }

/// The training loop shared by the emotion models: train with dev selection, reload the best, write predictions and
/// metrics. Data-parallel over `comm`'s ranks (docs/scaling.md): rank 0 owns `folder` (null on the other ranks), selects
/// and scores; the other ranks train, wait for rank 0 to finish and read the same result back.
let trainAndScore
    (comm: ICommunicator)
    (path: string)
    (folder: RunFolder)
    (stores: string, budget: Budget, seed: int, deviceName: string)
    (model: torch.nn.Module)
    (logits: EncoderInput -> torch.Tensor)
    (step: TrainStep)
    (configJson: string)
    =
    let device = Devices.Resolve deviceName
    use trainStore = FeatureStore.Open(Path.Combine(stores, "train"))
    use devStore = FeatureStore.Open(Path.Combine(stores, "valid"))
    use testStore = FeatureStore.Open(Path.Combine(stores, "test"))

    let train, dev, test =
        EmotionData trainStore, EmotionData devStore, EmotionData testStore

    let lead = comm.Rank = 0
    use runObserver = if lead then new RunObserver(folder, "dev") else null
    let observer: ITrainingObserver = if lead then runObserver else DataParallel.Silent

    let evaluate () =
        let report =
            Metrics.devReport (predict "dev" model logits dev device budget.BatchSize)

        readOnlyDict
            [
                "selection", Metrics.selectionScore report
                "wa", report.AverageWA
                "f1", report.AverageF1
            ]

    let options = trainerOptions budget seed

    let best = Path.Combine(path, "best.bin")

    let state =
        Trainer.Run(
            step,
            model,
            train,
            device,
            options,
            Path.Combine(path, "checkpoint.bin"),
            configJson,
            Func<_>(evaluate),
            "selection",
            best,
            observer,
            comm
        )

    if not lead then
        comm.Barrier() // rank 0 has written the predictions and finished the run
        readResult path
    else

        model.load best |> ignore
        let devSplit = predict "dev" model logits dev device budget.BatchSize
        let testSplit = predict "test" model logits test device budget.BatchSize
        writePredictions (folder.PathOf "dev.csv") [| for i in 0 .. dev.Count - 1 -> dev.Id i |] devSplit
        writePredictions (folder.PathOf "test.csv") [| for i in 0 .. test.Count - 1 -> test.Id i |] testSplit
        let devReport = Metrics.devReport devSplit
        let testReport = Metrics.evaluate devSplit testSplit

        folder.Finish(
            {|
                dataset = stores
                best_step = state.BestStep
                dev_selection = Metrics.selectionScore devReport
                dev = Evaluate.toJson devReport None
                test = Evaluate.toJson testReport None
                // The chosen model's learned modality weights (ModelConfig.LearnedModalityWeights), else null.
                modality_weights =
                    match box model with
                    | :? ITaskModel as m -> m.LoggedValues
                    | _ -> null
            |}
        )

        if comm.Size > 1 then
            comm.Barrier()

        {
            Run = folder.Path
            Dev = devReport
            Test = testReport
        }

/// The fingerprint of a finished pre-training run's weights (what a fine-tuning run starts from).
let pretrainedFingerprint (pretrained: string) =
    if not (RunFolder.IsDone pretrained) then
        failwithf "pre-training run %s is not finished (run scripts/pretrain.fsx first)" pretrained

    RunInputs.FileFingerprint(Path.Combine(pretrained, Pretrain.weightsFile))

/// The inputs of an emotion transformer run: the emotion stores and, when fine-tuned, the pre-trained weights.
let inputs (request: Runs.Request) (c: FineTuning) =
    Runs.inputs
        request
        $"feature stores {Path.GetFullPath c.Stores}"
        [
            yield! Runs.emotionStores c.Stores
            if c.Pretrained <> "" then
                "pretrained", pretrainedFingerprint (Path.GetFullPath c.Pretrained)
            yield! learnedWeightsInputs c.Model
        ]

/// Trains (or resumes, or reuses) the emotion transformer of `c` under `runs` (see Runs: reused or resumed only
/// when its config, seed and inputs match; `request.Fresh` trains into a new folder beside it).
/// Under `mpirun` every rank calls it (data-parallel, as `Pretrain.run`).
let run (runs: string) (request: Runs.Request) (c: FineTuning) : Result =
    let comm = Runs.startRanks request c.Threads
    let lead = comm.Rank = 0
    let path = Runs.folder runs c.Name request
    // Rank 0 owns the run folder (the reuse check, the lock, logs, checkpoints); the other ranks only train.
    use folder =
        if lead then
            Runs.openRun path c c.Seed (inputs request c)
        else
            null

    if (if lead then folder.IsFinished else RunFolder.IsDone path) then
        printfn "emotion run %s: finished run reused (%s)" c.Name path
        Stages.noteReused ()
        readResult path
    else
        Stages.noteWork ()
        let device = Devices.Resolve c.Device
        let config = modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1
        torch.manual_seed (int64 c.Seed) |> ignore
        use model = new MultiTaskModel(config)

        if c.Pretrained <> "" then
            loadPretrainedEncoder (Path.GetFullPath c.Pretrained) model

        model.``to`` device |> ignore
        let criterion = emotionCriterion c.Stores c.PositiveWeights device

        let step =
            TrainStep(model, criterion, LearningRateSchedule(c.Budget.LrFactor, c.Model.DModel, c.Budget.Warmup), c.Budget.ClipNorm)

        printfn
            "emotion run %s: %s, d %d, %d steps of %d"
            c.Name
            (if c.Pretrained = "" then
                 "from scratch"
             else
                 $"from {c.Pretrained}")
            c.Model.DModel
            c.Budget.Steps
            c.Budget.BatchSize

        let logits (x: EncoderInput) = model.forward(x, null).EmotionLogits
        trainAndScore comm path folder (c.Stores, c.Budget, c.Seed, c.Device) model logits step (toJson c)

/// Trains `c` as `ranks` data-parallel processes on this machine (see `Runs.launchRanks`; `script` is finetune.fsx, or
/// baseline.fsx with `extra` = --model transformer); returns the config and request under which `run` then reuses
/// the finished run.
let launchRanks (script: string) (extra: string list) (ranks: int) (runs: string) (request: Runs.Request) (c: FineTuning) =
    let name, request =
        Runs.launchRanks script "emotion run" ranks c.Budget.BatchSize runs request c.Name (fun name -> toJson { c with Name = name }) extra

    { c with Name = name }, request
