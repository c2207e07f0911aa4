/// The paper's evaluation protocol (§5) over declarative experiments: each emotion model is trained from N seeds,
/// the run with the best dev selection score ((average WA + average F1) / 2 at dev-tuned thresholds) is chosen, and
/// its test metrics are reported with bootstrap intervals (by default resampling whole test clusters: videos of
/// CMU-MOSEI, speakers of the demo corpus; or segments), beside the spread of the test
/// averages across seeds. Ablations (§5.3) re-score a chosen model with modalities removed at inference by a zero
/// stream weight, at thresholds re-tuned on their own dev predictions or the full model's (AblationThresholds). Test
/// labels never choose a seed, a threshold or a step: they are read only to score. Runs are reused only when they
/// match the request (see Runs); results carry the dataset, commit and command their runs recorded.
module Research.Experiments.Protocol

open System
open System.IO
open System.Text.Json
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Experiments.Config

/// An emotion model of the comparison.
type EmotionModel =
    /// The cross-modal transformer: from scratch when its Pretrained is "", else fine-tuned from that run.
    | Transformer of FineTuning
    /// The late-fusion BiGRU baseline.
    | LateFusionModel of LateFusion

/// One row of the comparison: a key (file names), a label (tables) and the model.
type Experiment =
    {
        Key: string
        Label: string
        Model: EmotionModel
    }

/// Modalities kept at inference (paper Table 3; beyond it, any non-empty subset); a removed one gets stream weight 0,
/// the others keep theirs. Without audio only an any-subset model (ModelConfig.AnySubset) can run: the paper's
/// encoder is queried by the audio stream (`runsOn`).
type Ablation =
    {
        Name: string
        Audio: bool
        Video: bool
        Text: bool
    }

/// Table 3's columns: A, A+V, A+T, A+V+T.
let paperAblations =
    [
        for video, text in [ false, false; true, false; false, true; true, true ] ->
            {
                Name = "A" + (if video then "+V" else "") + (if text then "+T" else "")
                Audio = true
                Video = video
                Text = text
            }
    ]

/// The seven non-empty subsets of {A, V, T} (the subset table beyond the paper): A, V, T, A+V, A+T, V+T, A+V+T.
let allSubsets =
    [
        for audio, video, text in
            [
                true, false, false
                false, true, false
                false, false, true
                true, true, false
                true, false, true
                false, true, true
                true, true, true
            ] ->
            {
                Name =
                    String.Join(
                        "+",
                        [
                            if audio then
                                "A"
                            if video then
                                "V"
                            if text then
                                "T"
                        ]
                    )
                Audio = audio
                Video = video
                Text = text
            }
    ]

/// Whether a transformer of this model size can be scored on the subset: with audio always; without it only the
/// any-subset encoder (the paper's needs audio as its query axis, §5.3 and §6).
let runsOn (model: ModelSize) (a: Ablation) = a.Audio || model.AnySubset

/// Which thresholds an ablation (Table 3) is scored at; both are tuned on dev predictions only.
type AblationThresholds =
    /// Re-tuned on the ablated model's own dev predictions (the default).
    | Retuned
    /// The full model's thresholds (tuned on its dev predictions with every modality), kept for the ablation.
    | Full

/// The flag value of a threshold choice ("retuned" or "full").
let thresholdsName =
    function
    | Retuned -> "retuned"
    | Full -> "full"

/// The threshold choice of a flag value.
let thresholdsOf (value: string) =
    match value with
    | "retuned" -> Retuned
    | "full" -> Full
    | other -> Errors.invalidSetting $"--ablation-thresholds: unknown '{other}' (retuned or full)"

/// Seeds and bootstrap of the protocol.
type Settings =
    {
        /// Random initialisations per model (paper: 10).
        Seeds: int list
        Bootstrap: Metrics.BootstrapOptions
        /// Label of the data every run is trained on (written into each run's run.json; the tables print the
        /// label each run recorded).
        Dataset: string
        /// The cluster of a test item, from its id (its video or speaker, as Bootstrap.Unit says; the id itself for
        /// "segment"). The data decides it: segment ids name their video, the demo manifest each video's speaker.
        ClusterOf: string -> string
        /// Train every run into a new folder beside existing ones (`--fresh`) instead of reusing matching runs.
        Fresh: bool
        /// The thresholds the ablations are scored at.
        AblationThresholds: AblationThresholds
    }

/// A metric with its 95 % bootstrap interval (fractions in [0, 1]).
type Estimate =
    {
        Value: float
        Low: float
        High: float
    }

/// One emotion's test metrics of the chosen run.
type EmotionResult =
    {
        Emotion: string
        WA: Estimate
        F1: Estimate
    }

/// What one seed's run gave, and where the run came from (its run.json).
type SeedResult =
    {
        Seed: int
        Run: string
        Dataset: string
        Commit: string
        Command: string
        DevSelection: float
        TestWA: float
        TestF1: float
    }

/// A model's result under the protocol.
type ModelResult =
    {
        Key: string
        Label: string
        /// The dataset label the chosen run recorded.
        Dataset: string
        Seeds: SeedResult[]
        /// The seed chosen on dev.
        Chosen: int
        /// Clusters of the test split the bootstrap resampled (Bootstrap.Unit: videos, speakers or segments).
        TestClusters: int
        PerEmotion: EmotionResult[]
        AverageWA: Estimate
        AverageF1: Estimate
    }

/// A chosen model re-scored with some modalities removed.
type AblationResult =
    {
        Key: string
        Label: string
        /// The chosen run, its dataset label and the commit and command that made it (its run.json).
        Run: string
        Dataset: string
        Commit: string
        Command: string
        Modalities: string
        /// "retuned" or "full" (see AblationThresholds).
        Thresholds: string
        AverageWA: Estimate
        AverageF1: Estimate
        PerEmotion: EmotionResult[]
    }

let private estimate (i: Metrics.Interval) : Estimate =
    {
        Value = i.Value
        Low = i.Low
        High = i.High
    }

/// The protocol's report of a test split (with its item ids) at given thresholds (tuned on dev only): test scored
/// with intervals that resample the clusters `settings.ClusterOf` gives the test ids. Returns also the number of
/// clusters.
let reportAt (settings: Settings) (thresholds: Metrics.Thresholds) (testIds: string[], test: Metrics.Split) =
    let clusters =
        testIds
        |> Array.map (fun id ->
            try
                settings.ClusterOf id
            with e ->
                raise (InvalidDataException($"{test.Name}: item '{id}': no {settings.Bootstrap.Unit} to resample: {e.Message}", e)))

    let c = Metrics.bootstrapClusters settings.Bootstrap thresholds test clusters

    let perEmotion =
        c.PerEmotion
        |> Array.map (fun e ->
            {
                Emotion = e.Emotion
                WA = estimate e.WA
                F1 = estimate e.F1
            })

    perEmotion, estimate c.AverageWA, estimate c.AverageF1, c.Clusters

/// The protocol's report of a dev and a test split (with its item ids): thresholds tuned on dev only, test scored
/// with intervals (see reportAt).
let report (settings: Settings) (dev: Metrics.Split) (testIds: string[], test: Metrics.Split) =
    reportAt settings (Metrics.tune dev) (testIds, test)

/// The seed whose run has the best dev selection score (ties: the smaller seed). Takes only dev reports.
let choose (devScores: (int * Metrics.Report) list) : int =
    match devScores with
    | [] -> invalidArg "devScores" "no runs to choose from"
    | _ ->
        devScores
        |> List.sortBy fst
        |> List.maxBy (fun (_, r) -> Metrics.selectionScore r)
        |> fst

/// The exact config of one seed's run of an experiment: named `<key>-seed<seed>`, with that seed.
let seedRun (e: Experiment) (seed: int) : EmotionModel =
    let name = $"{e.Key}-seed{seed}"

    match e.Model with
    | Transformer c -> Transformer { c with Name = name; Seed = seed }
    | LateFusionModel c -> LateFusionModel { c with Name = name; Seed = seed }

/// The run of one seed of an experiment (reused when finished, resumed when not, if it matches; see Runs).
let runSeed (runs: string) (settings: Settings) (e: Experiment) (seed: int) : FineTune.Result =
    let request: Runs.Request =
        {
            Fresh = settings.Fresh
            Dataset = settings.Dataset
        }

    match seedRun e seed with
    | Transformer c -> FineTune.run runs request c
    | LateFusionModel c -> Baseline.runLateFusion runs request c

let private splitOf (path: string) = snd (Evaluate.readSplit path)
let private idsAndSplitOf (path: string) = Evaluate.readSplit path

/// Trains every seed of an experiment (or reuses finished runs), chooses on dev, scores the choice on test.
let runExperiment (runs: string) (settings: Settings) (e: Experiment) : ModelResult =
    let results = [ for seed in settings.Seeds -> seed, runSeed runs settings e seed ]
    let chosen = choose [ for seed, r in results -> seed, r.Dev ]
    let chosenRun = results |> List.find (fun (s, _) -> s = chosen) |> snd

    let perEmotion, wa, f1, clusters =
        report settings (splitOf (Path.Combine(chosenRun.Run, "dev.csv"))) (idsAndSplitOf (Path.Combine(chosenRun.Run, "test.csv")))

    let origins = dict [ for _, r in results -> r.Run, Runs.origin r.Run ]

    {
        Key = e.Key
        Label = e.Label
        Dataset = origins[chosenRun.Run].Dataset
        Seeds =
            [|
                for seed, r in results ->
                    {
                        Seed = seed
                        Run = r.Run
                        Dataset = origins[r.Run].Dataset
                        Commit = origins[r.Run].Commit
                        Command = origins[r.Run].Command
                        DevSelection = Metrics.selectionScore r.Dev
                        TestWA = r.Test.AverageWA
                        TestF1 = r.Test.AverageF1
                    }
            |]
        Chosen = chosen
        TestClusters = clusters
        PerEmotion = perEmotion
        AverageWA = wa
        AverageF1 = f1
    }

/// The file beside cached ablation predictions that says what they were made from (see `ablationKey`).
let ablationKeyFile = "ablation.json"

/// What cached ablation predictions depend on: the chosen run's best.bin (its SHA-256), the modalities kept, the
/// threshold choice, the dev and test stores (fingerprints) and the code version. Cached predictions are reused only
/// when their key file holds exactly this.
let ablationKey (settings: Settings) (run: string) (stores: string) (a: Ablation) =
    let node = Nodes.JsonObject()
    node["best"] <- Nodes.JsonValue.Create(RunInputs.FileFingerprint(Path.Combine(run, "best.bin")))
    node["modalities"] <- Nodes.JsonValue.Create a.Name

    // Only a subset without audio says so: the paper's four ablations keep the keys their caches were written under.
    if not a.Audio then
        node["audio"] <- Nodes.JsonValue.Create false

    node["video"] <- Nodes.JsonValue.Create a.Video
    node["text"] <- Nodes.JsonValue.Create a.Text
    node["thresholds"] <- Nodes.JsonValue.Create(thresholdsName settings.AblationThresholds)

    for split in [ "valid"; "test" ] do
        node[$"stores/{split}"] <- Nodes.JsonValue.Create(FeatureStore.FingerprintOf(Path.Combine(stores, split)))

    node["code_version"] <- Nodes.JsonValue.Create RunInputs.CurrentCodeVersion
    node

/// Whether `folder` holds predictions cached under exactly `key`.
let private cachedUnder (folder: string) (key: Nodes.JsonNode) =
    let keyFile = Path.Combine(folder, ablationKeyFile)

    [ keyFile; Path.Combine(folder, "dev.csv"); Path.Combine(folder, "test.csv") ]
    |> List.forall File.Exists
    && (try
            Nodes.JsonNode.DeepEquals(Nodes.JsonNode.Parse(File.ReadAllText keyFile), key)
        with :? JsonException ->
            false)

/// Scores a finished transformer run with some modalities removed (stream weight 0; without audio only an any-subset
/// model, see `runsOn`, else an error naming the run); the predictions go to
/// `<folder>/dev.csv` and `test.csv`, with `ablation.json` (their `ablationKey`) written last. They are reused only
/// while the key matches (the run's current best.bin, the same options and stores); otherwise they are computed
/// again. Thresholds: re-tuned on the ablated dev predictions, or the full model's (settings.AblationThresholds),
/// dev only either way. The run folder itself is not touched.
let ablate (settings: Settings) (run: string) (folder: string) (a: Ablation) (key: string, label: string) : AblationResult =
    let dev, test = Path.Combine(folder, "dev.csv"), Path.Combine(folder, "test.csv")

    let c =
        ofJson<FineTuning> run (File.ReadAllText(Path.Combine(run, RunFolder.ConfigFile)))

    if not (runsOn c.Model a) then
        Errors.invalidSetting
            $"ablation {a.Name} of {run}: the model cannot run without audio (its encoder is queried by the audio stream; only an any-subset model, Model.AnySubset, can)"

    let cacheKey = ablationKey settings run c.Stores a

    if cachedUnder folder cacheKey then
        printfn "ablation %s of %s: cached predictions reused (%s)" a.Name run folder
        Stages.noteReused ()
    else
        Stages.noteWork ()
        TorchRuntime.Initialize c.Threads
        let device = Devices.Resolve c.Device
        let config = modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1
        use model = new MultiTaskModel(config)
        model.load (Path.Combine(run, "best.bin")) |> ignore
        model.``to`` device |> ignore
        let w = config.Modalities

        model.Encoder.Weights <-
            ModalityWeights((if a.Audio then w.Audio else 0.0), (if a.Video then w.Video else 0.0), (if a.Text then w.Text else 0.0))

        let logits (x: EncoderInput) = model.EmotionLogits x
        Directory.CreateDirectory folder |> ignore
        // The old key goes first: an interrupted recomputation leaves no key, so it is never taken for a cache.
        File.Delete(Path.Combine(folder, ablationKeyFile))

        for split, path in [ "valid", dev; "test", test ] do
            use store = FeatureStore.Open(Path.Combine(c.Stores, split))
            let data = EmotionData store
            let scores = FineTune.predict split model logits data device c.Budget.BatchSize
            FineTune.writePredictions path [| for i in 0 .. data.Count - 1 -> data.Id i |] scores

        let keyPath = Path.Combine(folder, ablationKeyFile)
        File.WriteAllText(keyPath + ".tmp", cacheKey.ToJsonString(JsonSerializerOptions(WriteIndented = true)) + "\n")
        File.Move(keyPath + ".tmp", keyPath, true)

    let thresholds =
        match settings.AblationThresholds with
        | Retuned -> Metrics.tune (splitOf dev)
        | Full -> Metrics.tune (splitOf (Path.Combine(run, "dev.csv")))

    let perEmotion, wa, f1, _ = reportAt settings thresholds (idsAndSplitOf test)
    let origin = Runs.origin run

    {
        Key = key
        Label = label
        Run = origin.Run
        Dataset = origin.Dataset
        Commit = origin.Commit
        Command = origin.Command
        Modalities = a.Name
        Thresholds = thresholdsName settings.AblationThresholds
        AverageWA = wa
        AverageF1 = f1
        PerEmotion = perEmotion
    }

/// The paired difference of two models on one modality subset: A − B of average WA and F1 with the paired bootstrap
/// interval (Metrics.bootstrapDifference), as fractions.
type DifferenceResult =
    {
        Modalities: string
        /// The keys and labels of the two models: A − B.
        KeyA: string
        LabelA: string
        KeyB: string
        LabelB: string
        WA: Estimate
        F1: Estimate
    }

/// The paired difference between two ablations of the same subset (`ablate`'s run and prediction folder of each):
/// both scored at the thresholds `ablate` used (re-tuned on each ablation's dev predictions, or each run's full
/// model's), test resampled by the same clusters on the same draws. The two must hold the same test items in the same
/// order.
let ablationDifference (settings: Settings) (a: AblationResult, folderA: string) (b: AblationResult, folderB: string) =
    let thresholds (run: string) (folder: string) =
        match settings.AblationThresholds with
        | Retuned -> Metrics.tune (splitOf (Path.Combine(folder, "dev.csv")))
        | Full -> Metrics.tune (splitOf (Path.Combine(run, "dev.csv")))

    let idsA, testA = idsAndSplitOf (Path.Combine(folderA, "test.csv"))
    let idsB, testB = idsAndSplitOf (Path.Combine(folderB, "test.csv"))

    if idsA <> idsB then
        raise (InvalidDataException($"{folderA} and {folderB}: test predictions of different items; a paired difference needs the same"))

    let clusters = idsA |> Array.map settings.ClusterOf

    let d =
        Metrics.bootstrapDifference settings.Bootstrap (thresholds a.Run folderA, testA) (thresholds b.Run folderB, testB) clusters

    {
        Modalities = a.Modalities
        KeyA = a.Key
        LabelA = a.Label
        KeyB = b.Key
        LabelB = b.Label
        WA = estimate d.DifferenceWA
        F1 = estimate d.DifferenceF1
    }

/// Everything the tables and plots are built from, with where it came from.
type Results =
    {
        /// The dataset label, command and commit of the runs the results are built from (their run.json, not the
        /// invocation that wrote the results): the one value they share, or the distinct values joined by "; ".
        Dataset: string
        Command: string
        Commit: string
        /// When the results were written.
        Created: string
        /// The machine that wrote them: CPU model, cores, operating system.
        Machine: string
        Seeds: int
        /// The test bootstrap: unit (segment, video or speaker), resamples, seed, level.
        Bootstrap: Metrics.BootstrapOptions
        /// The clusters of the test split it resampled (the units of Bootstrap.Unit).
        BootstrapClusters: int
        /// The ablations' thresholds: "retuned" or "full" (see AblationThresholds).
        AblationThresholds: string
        Models: ModelResult[]
        Ablations: AblationResult[]
        /// The pre-training run's held-out metrics (cer, speaker_accuracy, ...) and its folder.
        Pretraining: Collections.Generic.IDictionary<string, float>
        PretrainingRun: string
    }

/// The distinct values, in order of first appearance, joined by "; " (one value when all agree).
let joinDistinct (values: string seq) = String.Join("; ", Seq.distinct values)

/// Dataset label, command and commit of a results set, from the origins of its runs (the pre-training run and every
/// seed's run): see Results.
let provenanceOf (pretraining: Runs.Origin) (models: ModelResult seq) =
    let origins =
        [
            yield pretraining.Dataset, pretraining.Command, pretraining.Commit
            for m in models do
                for s in m.Seeds -> s.Dataset, s.Command, s.Commit
        ]

    let pick f = joinDistinct (origins |> List.map f)
    pick (fun (d, _, _) -> d), pick (fun (_, c, _) -> c), pick (fun (_, _, c) -> c)

let private json =
    JsonSerializerOptions(WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower)

/// Writes results as JSON, atomically.
let write (path: string) (r: Results) =
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path))
    |> ignore

    let temp = path + ".tmp"
    File.WriteAllText(temp, JsonSerializer.Serialize(r, json))
    File.Move(temp, path, true)

/// Reads results written by `write`.
let read (path: string) : Results =
    try
        JsonSerializer.Deserialize<Results>(File.ReadAllText path, json)
    with :? JsonException as e ->
        raise (InvalidDataException($"{path}: not a results file: {e.Message}", e))
