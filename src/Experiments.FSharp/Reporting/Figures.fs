/// The main job's figures (HTML with plotly.js inline, PNG through headless Chromium when installed) and the
/// index page linking them with the tables: pre-training curves, per-emotion WA/F1 bars of the compared models,
/// the ablation chart, cross-modal attention maps of a few test segments, and the learned modality weights over the
/// steps of runs that learn them. Built from run folders and results.json.
module Research.Experiments.Figures

open System
open System.IO
open System.Net
open System.Text
open Plotly.NET
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Experiments.Config
open Research.Experiments.Protocol

let private pct (x: float) = 100.0 * x

/// Pre-training curves from a run's log: every loss term per step (smoothed over 25 steps) and the held-out CER
/// and speaker accuracy at each evaluation.
let pretrainingCurves (run: string) (dataset: string) =
    let log = MetricsLog.Read(Path.Combine(run, RunFolder.LogFile))

    let smooth (points: (int64 * float) array) =
        let k = 25

        points
        |> Array.mapi (fun i (s, _) ->
            let window = points[max 0 (i - k + 1) .. i]
            s, window |> Array.averageBy snd)

    let term (name: string) (pick: StepResult -> Nullable<float>) =
        let points =
            [|
                for e in log.Steps do
                    let v = pick e.Result

                    if v.HasValue then
                        e.Step, v.Value
            |]
            |> smooth

        Chart.Line(x = Array.map fst points, y = Array.map snd points, Name = name, ShowLegend = true)

    let losses =
        [
            term "total loss" (fun r -> Nullable r.Total)
            term "ASR loss" (fun r -> r.Asr)
            term "speaker loss" (fun r -> r.Speaker)
        ]
        |> Chart.combine
        |> Chart.withYAxisStyle (TitleText = "loss (nats, 25-step mean)")

    let evaluation (key: string) (name: string) =
        let points =
            [|
                for e in log.Evaluations do
                    match e.Metrics.TryGetValue key with
                    | true, v -> e.Step, v
                    | _ -> ()
            |]

        Chart.Line(x = Array.map fst points, y = Array.map snd points, Name = name, ShowMarkers = true, ShowLegend = true)

    let heldOut =
        [
            evaluation "cer" "held-out CER (greedy)"
            evaluation "speaker_accuracy" "held-out speaker accuracy"
        ]
        |> Chart.combine
        |> Chart.withYAxisStyle (TitleText = "CER / accuracy")

    Chart.Grid (2, 1) [ losses; heldOut ]
    |> Chart.withXAxisStyle (TitleText = "step")
    |> Chart.withTitle $"Multi-task pre-training (0.8 · ASR + 0.2 · speaker) — {dataset}"
    |> Chart.withSize (1000, 800)

/// The learned modality weights (ModelConfig.LearnedModalityWeights) of a run over its training steps, one line per
/// modality from the `modality_weight_*` values of its log's step lines; None when the run did not learn them.
let modalityWeightCurves (run: string) (title: string) =
    let log = MetricsLog.Read(Path.Combine(run, RunFolder.LogFile))

    let points =
        [|
            for e in log.Steps do
                if not (isNull e.Result.Values) then
                    for KeyValue(name, v) in e.Result.Values -> name, (e.Step, v)
        |]

    if points.Length = 0 then
        None
    else
        points
        |> Array.groupBy fst
        |> Array.map (fun (name, xs) ->
            let xs = Array.map snd xs

            Chart.Line(
                x = Array.map fst xs,
                y = Array.map snd xs,
                Name = name.Substring(MultiTaskModel.ModalityWeightPrefix.Length),
                ShowLegend = true
            ))
        |> Chart.combine
        |> Chart.withXAxisStyle (TitleText = "step")
        |> Chart.withYAxisStyle (TitleText = "fusion weight (softmax of the learned logits)")
        |> Chart.withTitle title
        |> Some

/// Per-emotion test WA and F1 (chosen seed, 95 % bootstrap intervals as error bars) of the compared models.
let perEmotionBars (results: Results) =
    let names =
        Array.append (Metrics.emotions |> Array.map (fun e -> string (Char.ToUpper e[0]) + e[1..])) [| "Average" |]

    let panel (metric: string) (pick: EmotionResult -> Estimate) (average: ModelResult -> Estimate) =
        [
            for m in results.Models do
                let estimates = Array.append (m.PerEmotion |> Array.map pick) [| average m |]
                let values = estimates |> Array.map (fun e -> pct e.Value)

                Chart.Column(values = values, Keys = names, Name = $"{m.Label} ({metric})")
                |> Chart.withYErrorStyle (
                    Array = Array.map2 (fun (e: Estimate) v -> pct e.High - v) estimates values,
                    Arrayminus = Array.map2 (fun (e: Estimate) v -> v - pct e.Low) estimates values,
                    Symmetric = false
                )
        ]
        |> Chart.combine
        |> Chart.withYAxisStyle (TitleText = $"{metric} (%%)")

    Chart.Grid
        (2, 1)
        [
            panel "WA" (fun e -> e.WA) (fun m -> m.AverageWA)
            panel "F1" (fun e -> e.F1) (fun m -> m.AverageF1)
        ]
    |> Chart.withTitle
        $"Test WA and F1 per emotion (chosen seed; {TableFormat.levelText results.Bootstrap.Level} bootstrap intervals over {results.Bootstrap.Unit}s) — {results.Dataset}"
    |> Chart.withSize (1100, 800)

/// Table 3 as a chart: average WA and F1 per modality subset, baseline against the pre-trained model.
let ablationChart (results: Results) =
    let subsets = paperAblations |> List.map (fun a -> a.Name) |> Array.ofList

    let panel (metric: string) (pick: AblationResult -> Estimate) =
        [
            for key in results.Ablations |> Array.map (fun a -> a.Key) |> Array.distinct do
                let rows =
                    subsets
                    |> Array.choose (fun s -> results.Ablations |> Array.tryFind (fun a -> a.Key = key && a.Modalities = s))

                let estimates = rows |> Array.map pick
                let values = estimates |> Array.map (fun e -> pct e.Value)

                Chart.Column(values = values, Keys = (rows |> Array.map (fun a -> a.Modalities)), Name = $"{rows[0].Label} ({metric})")
                |> Chart.withYErrorStyle (
                    Array = Array.map2 (fun (e: Estimate) v -> pct e.High - v) estimates values,
                    Arrayminus = Array.map2 (fun (e: Estimate) v -> v - pct e.Low) estimates values,
                    Symmetric = false
                )
        ]
        |> Chart.combine
        |> Chart.withYAxisStyle (TitleText = $"average {metric} (%%)")

    Chart.Grid (2, 1) [ panel "WA" (fun a -> a.AverageWA); panel "F1" (fun a -> a.AverageF1) ]
    |> Chart.withTitle $"Modalities removed at inference (zero stream weight) — {results.Dataset}"
    |> Chart.withSize (1000, 800)

/// Cross-modal attention of the chosen run of a transformer model on the first `count` test segments: last layer,
/// mean over heads, valid positions only. Returns (title, chart) pairs.
let attentionMaps (run: string) (count: int) =
    let c =
        ofJson<FineTuning> run (File.ReadAllText(Path.Combine(run, RunFolder.ConfigFile)))

    let device = Devices.Resolve c.Device
    let config = modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1
    use model = new MultiTaskModel(config)
    model.load (Path.Combine(run, "best.bin")) |> ignore
    model.``to`` device |> ignore
    model.eval ()
    use store = FeatureStore.Open(Path.Combine(c.Stores, "test"))
    let data = EmotionData store
    let items = [| 0 .. min count data.Count - 1 |]

    CollectionGuard.Run(fun () ->
        use _ = torch.no_grad ()
        use _ = torch.NewDisposeScope()
        let struct (input, _) = data.Batch(items, device)
        let maps = model.Encoder.AttentionMaps input

        let valid (p: torch.Tensor) (i: int) =
            p.[int64 i].logical_not().sum().item<int64>() |> int

        [
            for i in items do
                let audioSteps = valid input.Audio.Padding i

                for name, layers, padding in
                    [
                        "video frame", maps.Video, (if isNull input.Video then null else input.Video.Padding)
                        "word", maps.Text, (if isNull input.Text then null else input.Text.Padding)
                    ] do
                    if not (isNull layers) then
                        let last = layers[layers.Length - 1].[int64 i].mean([| 0L |]).cpu() // (Ta, Tk)
                        let keys = valid padding i

                        let w =
                            Array2D.init audioSteps keys (fun a k -> float (last.[int64 a, int64 k].item<float32>()))

                        let title = $"{data.Id i}: audio → {name}s (last cross-modal layer, mean of heads)"
                        title, Plots.attentionMap title name None w
        ])

/// One figure written: its title and file names (relative to the output folder).
type Written =
    {
        Title: string
        Html: string
        Png: string option
    }

/// Saves a chart as `<name>.html` (plotly.js inline or shared, see Plots.saveAs) and `<name>.png` when Chromium is
/// installed, in `folder`.
let write (mode: Plots.PlotlyMode) (folder: string) (name: string) (title: string) (chart: GenericChart) =
    let html = Path.Combine(folder, name + ".html")
    Plots.saveAs mode chart html
    let png = Path.Combine(folder, name + ".png")

    {
        Title = title
        Html = name + ".html"
        Png =
            if Plots.pngSized 1100 850 html png then
                Some(name + ".png")
            else
                None
    }

/// What `index.html` links (beside it as `index.json`): table files and figures by their names in the folder, so a
/// later step (a standalone sweep) can add its own and render the page again.
type IndexManifest =
    { Tables: string[]; Figures: Written[] }

/// The manifest's file name beside index.html.
let indexManifestFile = "index.json"

let private manifestJson = Text.Json.JsonSerializerOptions(WriteIndented = true)

/// Writes a text file atomically (a temporary name, then a rename).
let private writeText (path: string) (text: string) =
    AtomicFile.Write(path, (fun stream -> stream.Write(UTF8Encoding(false).GetBytes text)))

/// `index.html`: the tables (rendered from their Markdown files) and links to every figure.
let private renderIndex (folder: string) (results: Results) (tables: string list) (figures: Written list) =
    let b = StringBuilder()
    let add (s: string) = b.Append(s).Append('\n') |> ignore
    let enc (s: string) = WebUtility.HtmlEncode s
    // the tables' Markdown lines: encoded, with inline code (`...`) as <code>
    let md (s: string) =
        RegularExpressions.Regex.Replace(enc s, "`([^`]*)`", "<code>$1</code>")

    add "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Paper tables and figures</title>"

    add
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,td:nth-child(2){text-align:left}</style></head><body>"

    add "<h1>Multi-modal embeddings by multi-task learning — tables and figures</h1>"
    add $"<p>Runs made by <code>{enc results.Command}</code> at commit {enc results.Commit}; written on {enc results.Created}.</p>"

    add
        $"<p>Our rows come from: <b>{enc results.Dataset}</b>. Rows labelled <i>CMU-MOSEI (paper)</i> are the paper's published numbers, for reference only.</p>"

    add "<h2>Tables</h2>"

    for path in tables |> List.filter (fun p -> p.EndsWith ".md") do
        let name = Path.GetFileName path
        let stem = Path.GetFileNameWithoutExtension path
        let lines = File.ReadAllLines path
        add $"<h3>{enc (lines[0].TrimStart('#', ' '))}</h3>"
        add $"<p>Files: <a href=\"{name}\">{name}</a>, <a href=\"{stem}.tex\">{stem}.tex</a>, <a href=\"{stem}.csv\">{stem}.csv</a></p>"
        let mutable inTable = false

        for line in lines |> Array.skip 1 do
            if line.StartsWith "|" then
                if not inTable then
                    add "<table>"
                    inTable <- true

                if not (line.StartsWith "|---") then
                    let cells =
                        line.Trim('|').Split('|') |> Array.map (fun c -> $"<td>{md (c.Trim())}</td>")

                    add ("<tr>" + String.Join("", cells) + "</tr>")
            else
                if inTable then
                    add "</table>"
                    inTable <- false

                if line.Trim() <> "" then
                    add $"<p>{md line}</p>"

        if inTable then
            add "</table>"

    match Stages.summaryOfFile (Path.Combine(folder, Stages.timingsFile)) with
    | Some line ->
        add
            $"<p>Time of the run that wrote these files: {enc line} (<a href=\"{Stages.timingsFile}\">{Stages.timingsFile}</a>: wall and CPU time, load per stage)</p>"
    | None -> ()

    add "<h2>Figures</h2><ul>"

    for f in figures do
        let png =
            match f.Png with
            | Some p -> $" (<a href=\"{p}\">PNG</a>)"
            | None -> ""

        add $"<li><a href=\"{f.Html}\">{enc f.Title}</a>{png}</li>"

    add "</ul></body></html>"
    let path = Path.Combine(folder, "index.html")
    writeText path (b.ToString())
    path

/// `index.html` in `folder`: the tables (rendered from their Markdown files, given as paths) and links to every
/// figure; `index.json` beside it records what it links (`addToIndex`). Returns the page's path.
let index (folder: string) (results: Results) (tables: string list) (figures: Written list) =
    let manifest =
        {
            Tables = tables |> List.map Path.GetFileName |> Array.ofList
            Figures = Array.ofList figures
        }

    writeText (Path.Combine(folder, indexManifestFile)) (Text.Json.JsonSerializer.Serialize(manifest, manifestJson))

    renderIndex folder results tables figures

/// Adds tables (paths in `folder`) and figures to the index page a main job wrote there (its results.json and
/// index.json), replacing entries of the same file names, and renders the page again; None when the folder holds
/// no main job's page (a sweep run into another folder).
let addToIndex (folder: string) (tables: string list) (figures: Written list) =
    let manifestPath = Path.Combine(folder, indexManifestFile)
    let resultsPath = Path.Combine(folder, "results.json")

    if File.Exists manifestPath && File.Exists resultsPath then
        let old =
            try
                Text.Json.JsonSerializer.Deserialize<IndexManifest>(File.ReadAllText manifestPath, manifestJson)
            with :? Text.Json.JsonException as e ->
                raise (InvalidDataException($"{manifestPath}: not an index manifest: {e.Message}", e))

        let names = tables |> List.map Path.GetFileName
        let htmls = figures |> List.map _.Html

        let keptTables =
            old.Tables
            |> Array.filter (fun t -> not (List.contains t names) && File.Exists(Path.Combine(folder, t)))
            |> Array.map (fun t -> Path.Combine(folder, t))
            |> List.ofArray

        let keptFigures =
            old.Figures
            |> Array.filter (fun f -> not (List.contains f.Html htmls))
            |> List.ofArray

        Some(index folder (read resultsPath) (keptTables @ tables) (keptFigures @ figures))
    else
        None

/// All figures of a results set into `folder` (plotly.js as `mode` says); returns what was written.
let all (mode: Plots.PlotlyMode) (folder: string) (results: Results) =
    let chosenRun key =
        results.Models
        |> Array.tryFind (fun m -> m.Key = key)
        |> Option.map (fun m -> (m.Seeds |> Array.find (fun s -> s.Seed = m.Chosen)).Run)

    [
        if File.Exists(Path.Combine(results.PretrainingRun, RunFolder.LogFile)) then
            write mode folder "pretraining-curves" "Pre-training curves" (pretrainingCurves results.PretrainingRun results.Dataset)

            match modalityWeightCurves results.PretrainingRun $"Learned modality weights in pre-training — {results.Dataset}" with
            | Some chart -> write mode folder "modality-weights-pretraining" "Learned modality weights (pre-training)" chart
            | None -> ()

        write mode folder "per-emotion" "Per-emotion WA and F1 of the compared models" (perEmotionBars results)
        write mode folder "ablations" "Modality ablations (Table 3)" (ablationChart results)

        for key in [ TableFormat.scratchKey; TableFormat.pretrainedKey ] do
            match chosenRun key with
            | Some run when File.Exists(Path.Combine(run, RunFolder.LogFile)) ->
                match modalityWeightCurves run $"Learned modality weights in emotion training ({key}) — {results.Dataset}" with
                | Some chart -> write mode folder $"modality-weights-{key}" $"Learned modality weights ({key})" chart
                | None -> ()
            | _ -> ()

        match chosenRun TableFormat.pretrainedKey with
        | Some run ->
            for i, (title, chart) in List.indexed (attentionMaps run 2) do
                write mode folder $"attention-{i + 1}" title chart
        | None -> ()
    ]
