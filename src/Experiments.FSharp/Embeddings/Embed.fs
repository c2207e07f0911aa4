/// Utterance (or frame-level) embeddings from a trained encoder: the `embed` command. See EmbeddingFiles for what is
/// written, README "Embeddings" for the command line.
module Research.Experiments.Embed

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Embeddings
open Research.Model.Training
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Runtime
open Research.Experiments.Errors
open Research.Experiments.Config

/// A model to embed with: where its weights are and the configuration that rebuilds it.
type Checkpoint =
    {
        /// "pre-training" or "emotion".
        Kind: string
        /// The run folder.
        Folder: string
        /// The weights file: TorchSharp weights of the whole MultiTaskModel, or a trainer checkpoint (checkpoint.bin).
        Weights: string
        /// True when Weights is a trainer checkpoint (weights inside, with optimiser and trainer state).
        IsTrainerCheckpoint: bool
        Config: ModelConfig
    }

let private isTrainerCheckpoint (path: string) = Checkpoint.IsCheckpoint path

/// Resolves `--checkpoint`: a pre-training run folder (model-config.json + model.bin), an emotion run folder
/// (config.json of fine-tuning or the from-scratch transformer + best.bin), or a file inside such a folder (model.bin,
/// best.bin, checkpoint.bin of an unfinished run, or another weights file of the same model). A late-fusion run has
/// no fused encoder and is refused; so is anything else, with what was expected.
let resolveCheckpoint (path: string) : Checkpoint =
    let full = Path.GetFullPath path

    let folder, file =
        if Directory.Exists full then
            full, None
        elif File.Exists full then
            Path.GetDirectoryName full, Some full
        else
            failwithf "--checkpoint: no such file or folder %s" full

    let weightsIn (defaultName: string) =
        let w = file |> Option.defaultValue (Path.Combine(folder, defaultName))

        if not (File.Exists w) then
            failwithf "--checkpoint %s: no weights file %s (a finished run has it; for an unfinished run pass its checkpoint.bin)" full w

        w

    let modelConfigPath = Path.Combine(folder, Pretrain.modelConfigFile)
    let configPath = Path.Combine(folder, "config.json")

    let finish kind weights config =
        {
            Kind = kind
            Folder = folder
            Weights = weights
            IsTrainerCheckpoint = isTrainerCheckpoint weights
            Config = config
        }

    if File.Exists modelConfigPath then
        let config =
            try
                JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText modelConfigPath)
            with :? JsonException as e ->
                failwithf "%s: not a model configuration: %s" modelConfigPath e.Message

        config.Validate()
        finish "pre-training" (weightsIn Pretrain.weightsFile) config
    elif File.Exists configPath then
        let text = File.ReadAllText configPath

        let node =
            try
                JsonNode.Parse(text).AsObject()
            with e ->
                failwithf "%s: not a JSON object: %s" configPath e.Message

        let has (key: string) = node.ContainsKey key

        if has "Pretrained" && has "Model" then
            let c = ofJson<FineTuning> configPath text

            finish "emotion" (weightsIn "best.bin") (modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1)
        elif has "Hidden" && has "FusionDim" then
            failwithf
                "--checkpoint %s: a late-fusion run (per-modality GRUs) has no fused encoder to embed with; use a pre-training or emotion transformer run"
                folder
        elif has "HeldOutPerSpeaker" then
            // An unfinished pre-training run: the speaker head's size is the data dir's speaker count (as Pretrain sets it).
            let c = ofJson<Pretraining> configPath text
            let weights = weightsIn "checkpoint.bin"

            let speakers =
                try
                    (FeatureStores.loadForStore c.DataDir).Speakers.Count
                with e ->
                    failwithf
                        "--checkpoint %s: an unfinished pre-training run; its speaker count comes from its data dir %s, which did not load (%s)"
                        full
                        c.DataDir
                        e.Message

            finish
                "pre-training"
                weights
                (modelConfig c.Model c.Inputs c.Modalities (TaskWeights(c.AsrWeight, c.SpeakerWeight, 0.0)) speakers)
        else
            failwithf "--checkpoint %s: %s is neither a fine-tuning nor a pre-training configuration" full configPath
    else
        failwithf
            "--checkpoint %s: not a run folder: expected %s + %s (pre-training) or config.json + best.bin (emotion run) in %s"
            full
            Pretrain.modelConfigFile
            Pretrain.weightsFile
            folder

/// Builds the checkpoint's model, loads its weights, moves it to `device` and puts it in evaluation mode.
let loadModel (c: Checkpoint) (device: torch.Device) : MultiTaskModel =
    let model = new MultiTaskModel(c.Config)

    try
        if c.IsTrainerCheckpoint then
            Checkpoint.Load(c.Weights, model, null, null) |> ignore
        else
            model.load c.Weights |> ignore
    with e ->
        model.Dispose()
        failwithf "%s: the weights do not fit the %s model of %s: %s" c.Weights c.Kind c.Folder e.Message

    model.``to`` device |> ignore
    model.eval ()
    model

/// The feature stores behind `--data`.
type DataSource =
    {
        /// What --data named (absolute).
        Path: string
        /// "store", "emotion stores" or "kaldi data dir".
        Kind: string
        /// (name, store folder) in output order.
        Stores: (string * string) list
        /// The Kaldi data dir (speakers, transcripts) when --data was one.
        KaldiDir: string option
    }

let private isStore (dir: string) =
    File.Exists(Path.Combine(dir, "index.bin"))
    && File.Exists(Path.Combine(dir, "data.bin"))

/// The emotion splits, in output order.
let splits = [ "train"; "valid"; "test" ]

/// Resolves `--data`: a feature store folder (index.bin + data.bin); a folder whose train/ valid/ test/ are stores
/// (the emotion root, e.g. data/demo/features/emotion: all its splits, in that order); or a Kaldi data dir (wav.scp +
/// utt2spk), which resolves to the store the pre-training presets pair with it: `<dir>/../features` (the
/// data/voxceleb2/data layout) or `<dir>/../../features/pretrain` (the demo's data/demo/pretrain/data).
let resolveData (path: string) : DataSource =
    let full = Path.GetFullPath path

    if not (Directory.Exists full) then
        failwithf "--data: no such folder %s" full

    if isStore full then
        {
            Path = full
            Kind = "store"
            Stores = [ Path.GetFileName full, full ]
            KaldiDir = None
        }
    else
        let emotion =
            splits
            |> List.map (fun s -> s, Path.Combine(full, s))
            |> List.filter (snd >> isStore)

        if not emotion.IsEmpty then
            {
                Path = full
                Kind = "emotion stores"
                Stores = emotion
                KaldiDir = None
            }
        elif
            File.Exists(Path.Combine(full, "wav.scp"))
            && File.Exists(Path.Combine(full, "utt2spk"))
        then
            let candidates =
                [
                    Path.GetFullPath(Path.Combine(full, "..", "features"))
                    Path.GetFullPath(Path.Combine(full, "..", "..", "features", "pretrain"))
                ]

            match candidates |> List.tryFind isStore with
            | Some store ->
                {
                    Path = full
                    Kind = "kaldi data dir"
                    Stores = [ Path.GetFileName store, store ]
                    KaldiDir = Some full
                }
            | None ->
                failwithf
                    "--data %s is a Kaldi data dir, but no feature store was found for it (tried %s); build it first (scripts/reproduce.fsx or scripts/features.fsx), or pass the store folder"
                    full
                    (String.concat ", " candidates)
        else
            failwithf
                "--data %s: expected a feature store (index.bin, data.bin), a folder with train/ valid/ test/ stores, or a Kaldi data dir (wav.scp, utt2spk)"
                full

/// Parses `--modalities`: letters or names separated by commas (A,V,T; audio,video,text; case-insensitive).
let parseModalities (text: string) : Set<string> =
    text.Split([| ','; '+'; ' ' |], StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun m ->
        match m.Trim().ToLowerInvariant() with
        | "a"
        | "audio" -> CorpusFeatures.Audio
        | "v"
        | "video" -> CorpusFeatures.Video
        | "t"
        | "text" -> CorpusFeatures.Text
        | other -> invalidSetting $"--modalities: unknown modality '{other}' (use A, V, T or audio, video, text)")
    |> Set.ofArray

/// The stream weights an embedding uses and why each is what it is. A modality keeps the model's weight when it
/// is requested, the model has its branch and every store has it; otherwise its weight is 0 (the paper's
/// inference-time ablation; the other weights are not rescaled). Audio is required by the paper's encoder (its query
/// axis): not requested, or absent from a store, is an error. An any-subset encoder (Model.AnySubset) treats audio
/// like the others; at least one modality must remain.
let chooseWeights (encoder: MultimodalEncoder) (configured: ModalityWeights) (requested: Set<string>) (stores: FeatureStore list) =
    if not encoder.AnySubset then
        if not (requested.Contains CorpusFeatures.Audio) then
            invalidSetting
                "--modalities must include audio (A): the encoder is queried by the audio stream, so there is no embedding without it (only an any-subset model, Model.AnySubset, embeds without audio)"

        for s in stores do
            if not (Seq.contains CorpusFeatures.Audio s.Modalities) then
                failwithf
                    "feature store %s has no audio features (it has: %s); the encoder needs audio"
                    s.Directory
                    (String.Join(", ", s.Modalities))

    let decide (modality: string) (weight: float) (built: bool) =
        let missing =
            stores |> List.filter (fun s -> not (Seq.contains modality s.Modalities))

        if not (requested.Contains modality) then
            0.0, $"{modality} 0 (not requested)"
        elif weight <= 0.0 || not built then
            0.0, $"{modality} 0 (the model has no {modality} branch)"
        elif not missing.IsEmpty then
            let has = String.Join(", ", missing.Head.Modalities)
            0.0, $"{modality} 0 (absent from the data: {missing.Head.Directory} has {has})"
        else
            weight, $"{modality} {weight:G4}"

    let a, aNote =
        if encoder.AnySubset then
            decide CorpusFeatures.Audio configured.Audio true
        else
            configured.Audio, $"audio {configured.Audio:G4}"

    let v, vNote =
        decide CorpusFeatures.Video configured.Video (not (isNull encoder.Video))

    let t, tNote =
        decide CorpusFeatures.Text configured.Text (not (isNull encoder.Text))

    if a + v + t <= 0.0 then
        invalidSetting $"no modality is left to embed with: {aNote}; {vNote}; {tNote}"

    ModalityWeights(a, v, t), [ aNote; vNote; tNote ]

/// What `embed` is asked to do.
type Request =
    {
        Checkpoint: string
        Data: string
        Out: string
        Frames: bool
        /// None = all three (each dropped to 0 where the model or the data lacks it).
        Modalities: Set<string> option
        BatchSize: int
        Threads: int
        Device: string
    }

/// Defaults of the command line.
let defaults =
    {
        Checkpoint = ""
        Data = ""
        Out = ""
        Frames = false
        Modalities = None
        BatchSize = 16
        Threads = Environment.ProcessorCount
        Device = "cpu"
    }

/// What a finished `embed` wrote.
type Summary =
    {
        Files: EmbeddingFiles.Paths
        Description: string
        Items: int
        Rows: int64
        Dim: int
        Weights: ModalityWeights
        Seconds: float
    }

/// Prints progress lines (items done, items/s, ETA, 1-minute load average) at most every 5 s and at the end.
type private Reporter(total: int) =
    let clock = Stopwatch.StartNew()
    let mutable lastShown = -10.0

    member _.Elapsed = clock.Elapsed.TotalSeconds

    member _.Report(doneItems: int) =
        let now = clock.Elapsed.TotalSeconds

        if now - lastShown >= 5.0 || doneItems = total then
            lastShown <- now
            let rate = float doneItems / max now 1e-9
            let eta = if rate > 0.0 then float (total - doneItems) / rate else nan

            printfn
                "[%7.1fs] embedded %d/%d items (%.1f items/s, ETA %.0f s; load average %.2f)"
                now
                doneItems
                total
                rate
                eta
                (Machine.loadAverage ())

/// Runs the embedding: loads the model and the stores, checks every item, writes the files (see EmbeddingFiles) and
/// `PATH.json` (what made them: checkpoint, data, weights, commit, timing and machine load).
let run (r: Request) : Summary =
    TorchRuntime.Initialize r.Threads

    if r.BatchSize < 1 then
        invalidSetting $"--batch must be at least 1, got {r.BatchSize}"

    let checkpoint = resolveCheckpoint r.Checkpoint
    let data = resolveData r.Data
    let device = Devices.Resolve r.Device
    use model = loadModel checkpoint device

    let stores =
        data.Stores |> List.map (fun (name, dir) -> name, FeatureStore.Open dir)

    use _ =
        { new IDisposable with
            member _.Dispose() =
                for _, s in stores do
                    s.Dispose()
        }

    let storeList = stores |> List.map snd

    let requested =
        r.Modalities |> Option.defaultValue (set [ "audio"; "video"; "text" ])

    let weights, notes =
        chooseWeights model.Encoder model.Config.Modalities requested storeList

    model.Encoder.Weights <- weights

    // Every item of every store is checked before anything is computed or written.
    for s in storeList do
        EmbeddingExtractor.RequireFrames(s, [| 0 .. s.Count - 1 |], weights, model.Encoder.AnySubset)

    let seen = Collections.Generic.Dictionary<string, string>()

    for name, s in stores do
        for id in s.Ids do
            match seen.TryGetValue id with
            | true, other -> failwithf "item id '%s' is in both store %s and store %s; ids must be unique" id other name
            | _ -> seen[id] <- name

    let items = storeList |> List.sumBy _.Count

    let rows =
        if r.Frames then
            storeList
            |> List.sumBy (fun s ->
                EmbeddingExtractor.Steps(s, [| 0 .. s.Count - 1 |], EmbeddingExtractor.QueryModality(weights, model.Encoder.AnySubset)))
        else
            int64 items

    let dim = model.Config.DModel
    let files = EmbeddingFiles.pathsOf r.Out
    Directory.CreateDirectory(Path.GetDirectoryName files.Npy) |> ignore
    let commit = Machine.gitCommit (Machine.repoRoot ())

    let description =
        let used = String.concat ", " notes
        $"{checkpoint.Kind} checkpoint {checkpoint.Weights}; data {data.Path} ({data.Kind}); modalities {used}"

    printfn "embed: %s" description

    printfn
        "embed: %d items -> %s (%s, d %d, batch %d)"
        items
        files.Npy
        (if r.Frames then $"{rows} frames" else "one row per item")
        dim
        r.BatchSize

    let metadata =
        readOnlyDict
            [
                "checkpoint", checkpoint.Weights
                "data", data.Path
                "layout", (if r.Frames then "frames" else "utterances")
                "weights", $"audio={weights.Audio};video={weights.Video};text={weights.Text}"
                "git_commit", commit
            ]

    let reporter = Reporter items
    let options = EmbeddingOptions(BatchSize = r.BatchSize, Frames = r.Frames)
    let load0 = Machine.loadAverage ()
    let stall0 = Machine.cpuStallMicroseconds ()

    using (new EmbeddingFiles.Writer(r.Out, dim, items, rows, r.Frames, metadata)) (fun writer ->
        let mutable count = 0

        for _, s in stores do
            for e in EmbeddingExtractor.Embed(model.Encoder, s, [| 0 .. s.Count - 1 |], options) do
                writer.Add e
                count <- count + 1
                reporter.Report count

        writer.Complete() |> ignore)

    let seconds = reporter.Elapsed

    let stallShare =
        match stall0, Machine.cpuStallMicroseconds () with
        | Some a, Some b when seconds > 0.0 -> JsonValue.Create((b - a) / 1e6 / seconds) :> JsonNode
        | _ -> null

    let json =
        JsonObject(
            dict
                [
                    "command", JsonValue.Create(String.Join(" ", Environment.GetCommandLineArgs())) :> JsonNode
                    "git_commit", JsonValue.Create commit
                    "created", JsonValue.Create(DateTimeOffset.UtcNow.ToString "o")
                    "checkpoint",
                    JsonObject(
                        dict
                            [
                                "kind", JsonValue.Create checkpoint.Kind :> JsonNode
                                "folder", JsonValue.Create checkpoint.Folder
                                "weights", JsonValue.Create checkpoint.Weights
                            ]
                    )
                    "data",
                    JsonObject(
                        dict
                            [
                                "path", JsonValue.Create data.Path :> JsonNode
                                "kind", JsonValue.Create data.Kind
                                "stores",
                                JsonArray(
                                    [|
                                        for name, s in stores ->
                                            JsonObject(
                                                dict
                                                    [
                                                        "name", JsonValue.Create name :> JsonNode
                                                        "path", JsonValue.Create s.Directory
                                                        "items", JsonValue.Create s.Count
                                                    ]
                                            )
                                            :> JsonNode
                                    |]
                                )
                            ]
                    )
                    "modalities",
                    JsonObject(
                        dict
                            [
                                "audio", JsonValue.Create weights.Audio :> JsonNode
                                "video", JsonValue.Create weights.Video
                                "text", JsonValue.Create weights.Text
                            ]
                    )
                    "modality_notes", JsonArray(notes |> List.map (fun n -> JsonValue.Create n :> JsonNode) |> Array.ofList)
                    "layout", JsonValue.Create(if r.Frames then "frames" else "utterances")
                    "items", JsonValue.Create items
                    "rows", JsonValue.Create rows
                    "dim", JsonValue.Create dim
                    "files",
                    JsonArray(
                        [|
                            yield JsonValue.Create files.Npy :> JsonNode
                            yield JsonValue.Create files.Ids
                            if r.Frames then
                                yield JsonValue.Create files.Offsets
                            yield JsonValue.Create files.Parquet
                        |]
                    )
                    "timing",
                    JsonObject(
                        dict
                            [
                                "seconds", JsonValue.Create seconds :> JsonNode
                                "items_per_s", JsonValue.Create(float items / max seconds 1e-9)
                                "threads", JsonValue.Create r.Threads
                                "batch", JsonValue.Create r.BatchSize
                                "load_average_start", JsonValue.Create load0
                                "load_average_end", JsonValue.Create(Machine.loadAverage ())
                                "cpu_stall_share", stallShare
                            ]
                    )
                ]
        )

    let stem = files.Npy.Substring(0, files.Npy.Length - 4)
    Machine.writeJson (stem + ".json") json
    printfn "embed: wrote %s, %s, %s%s" files.Npy files.Ids files.Parquet (if r.Frames then ", " + files.Offsets else "")

    {
        Files = files
        Description = description
        Items = items
        Rows = rows
        Dim = dim
        Weights = weights
        Seconds = seconds
    }
