/// Multi-task pre-training (paper §3): ASR (character transformer decoder) and speaker identification on a Kaldi-style
/// corpus, loss = 0.8 · ASR + 0.2 · speaker; held-out CER (greedy decoding) and speaker accuracy as it goes.
module Research.Experiments.Pretrain

open System
open System.IO
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Model.Text
open Research.Experiments.Config

/// What a finished pre-training run leaves for fine-tuning and embedding extraction.
type Result =
    {
        Run: string
        /// The model's weights (TorchSharp format) and the model configuration to rebuild it.
        Weights: string
        ModelConfig: string
        Metrics: Collections.Generic.IReadOnlyDictionary<string, float>
    }

/// File names inside a pre-training run folder.
let weightsFile = "model.bin"
let modelConfigFile = "model-config.json"

let presets = [ "demo", demoPretraining; "paper", paperPretraining ]

/// Items per batch of the held-out evaluation: greedy decoding runs one decoder pass per character for the whole
/// batch, and at the demo's sizes a pass costs about the same for 16 items as for 64 (the per-op overhead dominates),
/// so evaluating in batches of at least 64 (items in length order) cuts its time several-fold. The metrics do not
/// depend on it.
let evaluationBatch (b: Budget) = max b.BatchSize 64

/// The inputs of a pre-training run: the feature store, and the data dir's transcripts and speakers.
let inputs (request: Runs.Request) (c: Pretraining) =
    let dataFile name =
        let path = Path.Combine(c.DataDir, name)

        [
            if File.Exists path then
                $"data/{name}", RunInputs.FileFingerprint path
        ]

    Runs.inputs
        request
        $"Kaldi data dir {Path.GetFullPath c.DataDir}"
        [
            "store", FeatureStore.FingerprintOf c.Store
            yield! dataFile "text"
            yield! dataFile "utt2spk"
            yield! learnedWeightsInputs c.Model
        ]

/// Trains (or resumes, or reuses) the run of `c` under `runs` (see Runs: reused or resumed only when its config,
/// seed and inputs match; `request.Fresh` trains into a new folder beside it); returns where its results are.
/// Under `mpirun` every rank calls it (data-parallel, see docs/scaling.md): rank 0 owns the run folder, the others only
/// train; threads per rank are at most the cores divided among the ranks on the machine. `--fresh` is for the
/// launching process (`--ranks N` picks the new folder once, then launches the ranks on it), not for the ranks.
let run (runs: string) (request: Runs.Request) (c: Pretraining) : Result =
    let comm = Runs.startRanks request c.Threads
    let lead = comm.Rank = 0

    let path = Runs.folder runs c.Name request
    let weights = Path.Combine(path, weightsFile)
    let modelConfigPath = Path.Combine(path, modelConfigFile)

    let result metrics =
        {
            Run = path
            Weights = weights
            ModelConfig = modelConfigPath
            Metrics = metrics
        }

    FeatureStores.checkCmvnSplit c.Store c.HeldOutPerSpeaker

    // Rank 0 owns the run folder (the reuse check, the lock, logs, checkpoints); the other ranks only train.
    use folder =
        if lead then
            Runs.openRun path c c.Seed (inputs request c)
        else
            null

    if (if lead then folder.IsFinished else RunFolder.IsDone path) then
        printfn "pre-training %s: finished run reused (%s)" c.Name path
        Stages.noteReused ()
        let m = RunFolder.ReadMetrics path

        result (
            readOnlyDict
                [
                    for p in m.GetProperty("held_out").EnumerateObject() -> p.Name, p.Value.GetDouble()
                ]
        )
    else
        Stages.noteWork ()
        let device = Devices.Resolve c.Device
        let dir = FeatureStores.loadForStore c.DataDir
        use store = FeatureStore.Open c.Store

        let trainItems, heldOutItems =
            PretrainingData.Split(store, dir, c.HeldOutPerSpeaker).ToTuple()

        let vocabulary = CharVocabulary.English
        let train = PretrainingData(store, dir, trainItems, vocabulary)
        let heldOut = PretrainingData(store, dir, heldOutItems, vocabulary)

        let config =
            (modelConfig c.Model c.Inputs c.Modalities (TaskWeights(c.AsrWeight, c.SpeakerWeight, 0.0)) train.SpeakerCount)
                .WithCtcWeight(c.CtcWeight)

        printfn
            "pre-training %s: %d training and %d held-out utterances, %d speakers; d %d, %d/%d/%d layers; %d steps of %d"
            c.Name
            train.Count
            heldOut.Count
            train.SpeakerCount
            c.Model.DModel
            c.Model.AudioLayers
            c.Model.CrossModalLayers
            c.Model.DecoderLayers
            c.Budget.Steps
            c.Budget.BatchSize

        torch.manual_seed (int64 c.Seed) |> ignore
        use model = new MultiTaskModel(config)
        model.``to`` device |> ignore
        let criterion = MultiTaskCriterion.For config

        let schedule =
            LearningRateSchedule(c.Budget.LrFactor, c.Model.DModel, c.Budget.Warmup)

        let step = TrainStep(model, criterion, schedule, c.Budget.ClipNorm)
        use runObserver = if lead then new RunObserver(folder, "held-out") else null

        let observer: ITrainingObserver = if lead then runObserver else DataParallel.Silent

        let evaluate () =
            Evaluation.Pretraining(model, criterion, heldOut, device, evaluationBatch c.Budget)

        let options = trainerOptions c.Budget c.Seed

        let state =
            Trainer.Run(
                step,
                model,
                train,
                device,
                options,
                Path.Combine(path, "checkpoint.bin"),
                toJson c,
                Func<_>(evaluate),
                null,
                null,
                observer,
                comm
            )

        if not lead then
            result state.LastEvaluation
        else

            Trainer.SaveWeights(model, weights)

            File.WriteAllText(
                modelConfigPath,
                Text.Json.JsonSerializer.Serialize(config, Text.Json.JsonSerializerOptions(WriteIndented = true))
            )

            folder.Finish(
                {|
                    dataset = c.DataDir
                    steps = state.Step
                    held_out = state.LastEvaluation
                    speakers = train.SpeakerCount
                    chance_speaker_accuracy = 1.0 / float train.SpeakerCount
                    // The final learned modality weights (ModelConfig.LearnedModalityWeights), else null.
                    modality_weights = (model :> ITaskModel).LoggedValues
                |}
            )

            printfn "pre-training %s: done; %s" c.Name path
            result state.LastEvaluation

/// Trains `c` as `ranks` data-parallel processes on this machine: picks the run folder once (a new one under
/// `request.Fresh`), runs `mpirun -np ranks dotnet fsi scripts/pretrain.fsx` on it with the resolved config and the
/// request's dataset label, and waits; returns the config and request under which `run` then reuses the finished run.
/// Clear errors for a missing mpirun or more ranks than items in a batch, before anything is written.
let launchRanks (ranks: int) (runs: string) (request: Runs.Request) (c: Pretraining) =
    let name, request =
        Runs.launchRanks
            "pretrain.fsx"
            "pre-training"
            ranks
            c.Budget.BatchSize
            runs
            request
            c.Name
            (fun name -> toJson { c with Name = name })
            []

    { c with Name = name }, request
