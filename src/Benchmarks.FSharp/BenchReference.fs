/// The PyTorch reference (benchmarks/pytorch/reference_model.py): an independent implementation of the multi-task
/// model in PyTorch. Our side exports a model's configuration, weights, a batch, and what our model computes from them
/// in eval mode (every output, loss term and parameter gradient); the reference loads them, computes the same and
/// compares. Then both time the same training step at the same thread count on the same batch.
/// Files are TorchSharp's Module.save format (named tensors), which the Python side reads and writes.
module Research.Benchmarks.BenchReference

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Training
open Research.Experiments.Machine
open Research.Benchmarks.BenchStats
open Research.Experiments

type Tensor = torch.Tensor

/// Writes named tensors in TorchSharp's Module.save format (LEB128 count; per entry key, dtype, shape, raw bytes),
/// atomically.
let writeTensors (path: string) (entries: (string * Tensor) list) =
    let dictionary = Dictionary<string, Tensor>()

    for name, t in entries do
        if dictionary.ContainsKey name then
            invalidArg "entries" $"{path}: the entry '{name}' is given twice"

        dictionary.Add(name, t.detach().cpu().contiguous())

    AtomicFile.Write(
        path,
        fun stream ->
            use writer = new BinaryWriter(stream, Text.Encoding.UTF8, true)
            torch.nn.Module.save_state_dict (writer, dictionary)
    )

/// Reads every entry of a TorchSharp-format file, in file order.
let readTensors (path: string) : (string * Tensor) list =
    if not (File.Exists path) then
        raise (FileNotFoundException($"{path}: no such tensor file", path))

    use reader = new BinaryReader(File.OpenRead path, Text.Encoding.UTF8)

    let count =
        try
            reader.Read7BitEncodedInt()
        with e ->
            raise (InvalidDataException($"{path}: cannot read the entry count ({e.Message})"))

    let entries =
        [
            for i in 1..count ->
                try
                    let name = reader.ReadString()
                    name, torch.Tensor.Load reader
                with e ->
                    raise (InvalidDataException($"{path}: entry {i} of {count} is unreadable ({e.Message})"))
        ]

    if reader.BaseStream.Position <> reader.BaseStream.Length then
        raise (
            InvalidDataException($"{path}: {reader.BaseStream.Length - reader.BaseStream.Position} trailing bytes after {count} entries")
        )

    entries

/// The fields of a ModelConfig that shape the model, with the C# property names (the Python side reads them).
let configJson (c: ModelConfig) =
    let n (x: int) = JsonValue.Create x :> JsonNode
    let f (x: float) = JsonValue.Create x :> JsonNode

    JsonObject(
        dict
            [
                "AudioDim", n c.AudioDim
                "VideoDim", n c.VideoDim
                "TextDim", n c.TextDim
                "DModel", n c.DModel
                "Heads", n c.Heads
                "FeedForward", n c.FeedForward
                "AudioLayers", n c.AudioLayers
                "CrossModalLayers", n c.CrossModalLayers
                "DecoderLayers", n c.DecoderLayers
                "VocabSize", n c.VocabSize
                "Speakers", n c.Speakers
                "Emotions", n c.Emotions
                "Dropout", f c.Dropout
                "LabelSmoothing", f c.LabelSmoothing
                "Modalities",
                JsonObject(
                    dict
                        [
                            "Audio", f c.Modalities.Audio
                            "Video", f c.Modalities.Video
                            "Text", f c.Modalities.Text
                        ]
                )
                "Tasks",
                JsonObject(
                    dict
                        [
                            "Asr", f c.Tasks.Asr
                            "Speaker", f c.Tasks.Speaker
                            "Emotion", f c.Tasks.Emotion
                        ]
                )
            ]
    )

/// Reads what configJson wrote; a missing field is an error naming the file and the field.
let configOfJson (path: string) =
    let root = JsonNode.Parse(File.ReadAllText path)

    let get (node: JsonNode) (name: string) : JsonNode =
        match node[name] with
        | null -> raise (InvalidDataException($"{path}: missing field '{name}'"))
        | v -> v

    let i name = (get root name).GetValue<int>()
    let f (node: JsonNode) name = (get node name).GetValue<float>()
    let m = get root "Modalities"
    let t = get root "Tasks"

    ModelConfig(
        AudioDim = i "AudioDim",
        VideoDim = i "VideoDim",
        TextDim = i "TextDim",
        DModel = i "DModel",
        Heads = i "Heads",
        FeedForward = i "FeedForward",
        AudioLayers = i "AudioLayers",
        CrossModalLayers = i "CrossModalLayers",
        DecoderLayers = i "DecoderLayers",
        VocabSize = i "VocabSize",
        Speakers = i "Speakers",
        Emotions = i "Emotions",
        Dropout = f root "Dropout",
        LabelSmoothing = f root "LabelSmoothing",
        Modalities = ModalityWeights(f m "Audio", f m "Video", f m "Text"),
        Tasks = TaskWeights(f t "Asr", f t "Speaker", f t "Emotion")
    )

/// A copy of a configuration with other task and modality weights.
let withWeights (tasks: TaskWeights) (modalities: ModalityWeights) (c: ModelConfig) =
    ModelConfig(
        AudioDim = c.AudioDim,
        VideoDim = c.VideoDim,
        TextDim = c.TextDim,
        DModel = c.DModel,
        Heads = c.Heads,
        FeedForward = c.FeedForward,
        AudioLayers = c.AudioLayers,
        CrossModalLayers = c.CrossModalLayers,
        DecoderLayers = c.DecoderLayers,
        VocabSize = c.VocabSize,
        Speakers = c.Speakers,
        Emotions = c.Emotions,
        Dropout = c.Dropout,
        LabelSmoothing = c.LabelSmoothing,
        Modalities = modalities,
        Tasks = tasks
    )

/// A batch as named tensors (absent parts left out): audio/video/text features and padding, the ASR input and
/// target, speakers, emotions, and the emotion loss's positive-class weights.
let batchEntries (input: EncoderInput) (targets: Targets) (positiveWeights: Tensor option) =
    [
        "audio.features", input.Audio.Features
        "audio.padding", input.Audio.Padding
        if not (isNull (box input.Video)) then
            "video.features", input.Video.Features
            "video.padding", input.Video.Padding
        if not (isNull (box input.Text)) then
            "text.features", input.Text.Features
            "text.padding", input.Text.Padding
        if not (isNull targets.AsrInput) then
            "asr.input", targets.AsrInput
            "asr.target", targets.AsrTarget
        if not (isNull targets.Speakers) then
            "speakers", targets.Speakers
        if not (isNull targets.Emotions) then
            "emotions", targets.Emotions
        match positiveWeights with
        | Some w -> "emotion_pos_weight", w
        | None -> ()
    ]

/// The batch batchEntries wrote (a part absent from the file is null).
let batchOfEntries (path: string) (entries: (string * Tensor) list) =
    let m = Map.ofList entries

    let get name =
        match m.TryFind name with
        | Some t -> t
        | None -> null

    let sequence name =
        match m.TryFind(name + ".features"), m.TryFind(name + ".padding") with
        | Some f, Some p -> Sequence(f, p)
        | None, None -> Unchecked.defaultof<Sequence>
        | _ -> raise (InvalidDataException($"{path}: {name} needs both '{name}.features' and '{name}.padding'"))

    if not (m.ContainsKey "audio.features") then
        raise (InvalidDataException($"{path}: no 'audio.features' entry"))

    EncoderInput(sequence "audio", sequence "video", sequence "text"),
    Targets(get "asr.input", get "asr.target", get "speakers", get "emotions"),
    m.TryFind "emotion_pos_weight"

/// What our model computes from a batch in eval mode (dropout off): the fused sequence and each stream, the heads'
/// logits, every loss term, and every parameter's gradient after one backward pass of the total loss.
let evaluate (model: MultiTaskModel) (criterion: MultiTaskCriterion) (input: EncoderInput) (targets: Targets) =
    model.eval ()
    model.zero_grad ()
    let output = model.forward (input, targets.AsrInput)
    let loss = criterion.Compute(output, targets)
    loss.Total.backward ()
    let enc = output.Encoder

    let present (entries: (string * Tensor) list) =
        entries |> List.filter (fun (_, t) -> not (isNull t))

    present
        [
            "output.fused", enc.Fused
            "output.audio", enc.Audio
            "output.video", enc.Video
            "output.text", enc.Text
            "output.asr_logits", output.AsrLogits
            "output.speaker_logits", output.SpeakerLogits
            "output.emotion_logits", output.EmotionLogits
            "loss.total", loss.Total
            "loss.asr", loss.Asr
            "loss.speaker", loss.Speaker
            "loss.emotion", loss.Emotion
        ]
    @ [
        for struct (name, p) in model.named_parameters () -> "grad." + name, (if isNull p.grad then torch.zeros_like p else p.grad)
    ]
    |> List.map (fun (k, t) -> k, t.detach ())

/// Agreement of one tensor with its reference.
type Agreement =
    {
        Name: string
        MaxAbsReference: float
        MaxAbsDiff: float
        /// max |ours − reference| / max(1, |reference|): absolute for values up to 1, relative above.
        MaxScaledDiff: float
        /// ‖ours − reference‖ / ‖reference‖ (None for an all-zero reference).
        RelativeL2: float option
        /// Why the tensors cannot be compared (missing, other shape), or None.
        Problem: string option
    }

/// The tolerance of the comparison: |ours − reference| ≤ 1e-4 · max(1, |reference|) per element.
let tolerance = 1e-4

/// Whether an agreement is within tolerance.
let agrees (a: Agreement) =
    a.Problem.IsNone && a.MaxScaledDiff <= tolerance

/// Compares our tensors with every reference tensor (in float64).
let compare (ours: (string * Tensor) list) (reference: (string * Tensor) list) =
    let mine = Map.ofList ours

    [
        for name, r in reference ->
            let blank =
                {
                    Name = name
                    MaxAbsReference = nan
                    MaxAbsDiff = nan
                    MaxScaledDiff = nan
                    RelativeL2 = None
                    Problem = None
                }

            match mine.TryFind name with
            | None ->
                { blank with
                    Problem = Some "missing in ours"
                }
            | Some o when o.numel () <> r.numel () ->
                { blank with
                    Problem = Some $"shape [{String.Join(',', o.shape)}] vs reference [{String.Join(',', r.shape)}]"
                }
            | Some _ when r.numel () = 0L ->
                { blank with
                    MaxAbsReference = 0.0
                    MaxAbsDiff = 0.0
                    MaxScaledDiff = 0.0
                }
            | Some o ->
                use scope = torch.NewDisposeScope()
                let r64 = r.to_type(torch.float64).flatten()
                let o64 = o.to_type(torch.float64).flatten()
                let delta = (o64 - r64).abs()
                let norm = r64.norm().item<float>()

                {
                    Name = name
                    MaxAbsReference = r64.abs().max().item<float>()
                    MaxAbsDiff = delta.max().item<float>()
                    MaxScaledDiff = (delta / r64.abs().clamp_min(1.0)).max().item<float>()
                    RelativeL2 =
                        (if norm > 0.0 then
                             Some(delta.norm().item<float>() / norm)
                         else
                             None)
                    Problem = None
                }
    ]

/// Runs the Python reference with `threads` BLAS/OpenMP threads; returns its JSON answer (its stdout).
let runPython (python: string) (root: string) (threads: int) (args: string list) =
    let script = Path.Combine(root, "benchmarks", "pytorch", "reference_model.py")

    let info =
        ProcessStartInfo(
            python,
            script :: args,
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false
        )

    for name in [ "OMP_NUM_THREADS"; "OPENBLAS_NUM_THREADS"; "MKL_NUM_THREADS" ] do
        info.Environment[name] <- string threads

    use p = Process.Start info
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()

    if p.ExitCode <> 0 then
        failwithf "%s %s %s failed (exit code %d): %s" python script (String.Join(" ", args)) p.ExitCode (err.Result.Trim())

    try
        JsonNode.Parse(out.Trim())
    with e ->
        failwithf "%s %s: its output is not JSON (%s): %s" python script e.Message (out.Substring(0, min 500 out.Length))

/// A model to compare and time: a configuration and a batch shape.
type Subject =
    {
        Name: string
        Config: ModelConfig
        Shape: BatchShape
    }

/// The comparison's tasks: all three heads on (the pre-training model has no emotion head), so every module and
/// loss term is compared.
let checkTasks = TaskWeights(0.8, 0.2, 1.0)

/// Positive-class weights of the emotion loss in the comparison (any values other than 1 test that they are used).
let checkPositiveWeights (emotions: int) =
    torch.tensor (Array.init emotions (fun e -> 1.5f + float32 e))

/// Exports a subject for the comparison into `dir`: config.json, weights.dat, batch.dat and ours.dat.
let exportCheck (dir: string) (subject: Subject) (seed: int) =
    use scope = torch.NewDisposeScope()
    let config = withWeights checkTasks subject.Config.Modalities subject.Config
    torch.manual_seed (int64 seed) |> ignore
    use model = new MultiTaskModel(config)

    let struct (input, targets) =
        SyntheticBatch.Create(config, subject.Shape, seed, torch.CPU)

    let positive = checkPositiveWeights config.Emotions
    let criterion = MultiTaskCriterion(config.Tasks, config.LabelSmoothing, positive)
    let clock = Stopwatch.StartNew()
    let ours = evaluate model criterion input targets
    let seconds = clock.Elapsed.TotalSeconds
    Directory.CreateDirectory dir |> ignore
    writeJson (Path.Combine(dir, "config.json")) (configJson config)
    model.save (Path.Combine(dir, "weights.dat")) |> ignore
    writeTensors (Path.Combine(dir, "batch.dat")) (batchEntries input targets (Some positive))
    writeTensors (Path.Combine(dir, "ours.dat")) ours
    // The same computation in float64: it separates the implementation (the two should then agree to ~1e-10) from
    // float32 rounding.
    model.``to`` torch.float64 |> ignore

    let wide (s: Sequence) =
        if isNull (box s) then
            s
        else
            Sequence(s.Features.to_type torch.float64, s.Padding)

    let ours64 =
        evaluate
            model
            (MultiTaskCriterion(config.Tasks, config.LabelSmoothing, positive.to_type torch.float64))
            (EncoderInput(wide input.Audio, wide input.Video, wide input.Text))
            (Targets(targets.AsrInput, targets.AsrTarget, targets.Speakers, targets.Emotions.to_type torch.float64))

    writeTensors (Path.Combine(dir, "ours64.dat")) ours64
    seconds

/// Exports a subject for timing into `dir`: config.json (the benchmarked pre-training model) and batch.dat.
let exportTiming (dir: string) (subject: Subject) (seed: int) =
    use scope = torch.NewDisposeScope()
    Directory.CreateDirectory dir |> ignore

    let struct (input, targets) =
        SyntheticBatch.Create(subject.Config, subject.Shape, seed, torch.CPU)

    writeJson (Path.Combine(dir, "config.json")) (configJson subject.Config)
    writeTensors (Path.Combine(dir, "batch.dat")) (batchEntries input targets None)

/// Settings of the reference part.
type Settings =
    {
        Python: string
        Threads: int
        Seed: int
        Timing: BenchStep.Timing
        /// Steps the Python side times.
        PythonSteps: int
    }

/// Compares and times one subject; returns its JSON record (every repetition's raw numbers) and prints a summary.
let runSubject (root: string) (settings: Settings) (ceiling: BenchStep.Ceiling) (subject: Subject) =
    let dir =
        Path.Combine(Path.GetTempPath(), $"research-bench-reference-{Guid.NewGuid():N}")

    try
        let checkDir = Path.Combine(dir, "check")
        let timeDir = Path.Combine(dir, "time")
        printfn "  %s: exporting weights, a batch, our outputs and gradients ..." subject.Name
        let oursSeconds = exportCheck checkDir subject settings.Seed

        let check =
            runPython settings.Python root settings.Threads [ "check"; checkDir; "--threads"; string settings.Threads ]

        let ok = check["ok"].GetValue<bool>()

        let line (what: string) =
            let s = check[what]

            if isNull s then
                "-"
            else
                $"""max |Δ| {s["max_abs_diff"].GetValue<float>():g} (scaled {s["max_scaled_diff"].GetValue<float>():g}, {s["worst"]})"""

        printfn
            "  %s: agreement with PyTorch %s: outputs %s; losses %s; gradients %s"
            subject.Name
            (if ok then "within 1e-4" else "FAILED")
            (line "outputs")
            (line "losses")
            (line "gradients")

        exportTiming timeDir subject settings.Seed

        let case: BenchStep.Case =
            {
                Model = "transformer"
                Config = subject.Name
                Subject = BenchStep.Transformer subject.Config
                Shape = subject.Shape
                Threads = 0
            }

        let ours = BenchStep.measure case settings.Timing settings.Seed ceiling

        let theirs, theirLoad =
            underLoad (fun () ->
                runPython
                    settings.Python
                    root
                    settings.Threads
                    [
                        "time"
                        timeDir
                        "--steps"
                        string settings.PythonSteps
                        "--warmup"
                        string settings.Timing.Warmup
                        "--threads"
                        string settings.Threads
                        "--seed"
                        string settings.Seed
                    ])

        let theirMs =
            theirs["ms_per_step"].AsArray()
            |> Seq.map (fun v -> v.GetValue<float>())
            |> List.ofSeq

        let oursSpread = spread "ours" ours.Milliseconds
        let theirSpread = spread "PyTorch" theirMs

        let torchVersion = theirs["versions"].["torch"].GetValue<string>()

        printfn
            "  %s: training step ours %.0f ms (%.0f-%.0f), PyTorch %s %.0f ms (%.0f-%.0f): ratio %.2f"
            subject.Name
            oursSpread.Median
            oursSpread.Min
            oursSpread.Max
            torchVersion
            theirSpread.Median
            theirSpread.Min
            theirSpread.Max
            (oursSpread.Median / theirSpread.Median)

        JsonObject(
            dict
                [
                    "name", JsonValue.Create subject.Name :> JsonNode
                    "config", configJson subject.Config
                    "check_config", JsonNode.Parse(File.ReadAllText(Path.Combine(checkDir, "config.json")))
                    "shape",
                    JsonObject(
                        dict
                            [
                                "batch", JsonValue.Create subject.Shape.Batch :> JsonNode
                                "audio_steps", JsonValue.Create subject.Shape.AudioSteps
                                "video_frames", JsonValue.Create subject.Shape.VideoFrames
                                "words", JsonValue.Create subject.Shape.Words
                                "characters", JsonValue.Create subject.Shape.Characters
                            ]
                    )
                    "agreement", check
                    "our_eval_forward_backward_seconds", JsonValue.Create oursSeconds
                    "ours_ms_per_step", sampleJson "ours" ours.Milliseconds
                    "ours_load",
                    JsonObject(
                        dict
                            [
                                "load_average_1m_start", JsonValue.Create ours.LoadAverage :> JsonNode
                                "cpu_stall_share",
                                (match ours.CpuStall with
                                 | Some x -> JsonValue.Create x :> JsonNode
                                 | None -> null)
                            ]
                    )
                    "pytorch_ms_per_step", sampleJson "PyTorch" theirMs
                    "pytorch_load", loadJson theirLoad
                    "pytorch", theirs
                    "ratio_of_medians_ours_over_pytorch", JsonValue.Create(oursSpread.Median / theirSpread.Median)
                ]
        )
    finally
        if Environment.GetEnvironmentVariable "RESEARCH_BENCH_KEEP" = "1" then
            printfn "  %s: kept the exported files in %s (RESEARCH_BENCH_KEEP=1)" subject.Name dir
        elif Directory.Exists dir then
            Directory.Delete(dir, true)
