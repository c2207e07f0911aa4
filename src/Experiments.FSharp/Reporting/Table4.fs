/// Table 4, beyond the paper (issue 12): one table per sweep (Sweeps.fs), built from the sweep's results file
/// (`sweep-<name>.json` beside results.json) only, so the tables are a pure function of it. The task-weight and
/// modality-weight sweeps give one row per point (test WA/F1 per emotion of the emotion TF fine-tuned from that
/// point's pre-trained encoder, averages with intervals); the subset sweep gives the seven modality subsets at
/// inference of three models, with a dash where a model cannot run (the paper's encoder needs audio).
module Research.Experiments.Table4

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json
open Research.Experiments.Protocol
open Research.Experiments.TableFormat

/// The pre-training run behind one point of a sweep, with its held-out metrics (cer, speaker_accuracy, and the
/// final learned modality weights `modality_weight_*` when it learned them).
type PretrainingPoint =
    {
        /// The point's emotion experiment key (its ModelResult's Key).
        Key: string
        Run: string
        Metrics: Collections.Generic.IDictionary<string, float>
    }

/// What a sweep produced: its name (Sweeps.named) and the protocol's results of its points. Results.Models holds one
/// model per point (the subset sweep: its three models with every modality); Results.Ablations the subset sweep's
/// models scored on each subset they can run on (none for the other sweeps).
type SweepResults =
    {
        Sweep: string
        Results: Results
        Pretrainings: PretrainingPoint[]
        /// The subset sweep: the any-subset model minus the paper's pre-trained model on each subset both run on,
        /// with paired bootstrap intervals (empty for the other sweeps).
        Differences: DifferenceResult[]
    }

/// The file of a sweep's results beside results.json.
let resultsFile (sweep: string) = $"sweep-{sweep}.json"

/// The name of a sweep's table files (without extension) and of its figure.
let tableName (sweep: string) = $"table4-{sweep}"

let private json =
    JsonSerializerOptions(WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower)

/// Writes a sweep's results as JSON, atomically.
let write (path: string) (r: SweepResults) =
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path))
    |> ignore

    let temp = path + ".tmp"
    File.WriteAllText(temp, JsonSerializer.Serialize(r, json))
    File.Move(temp, path, true)

/// Reads a sweep's results written by `write`.
let read (path: string) : SweepResults =
    let r =
        try
            JsonSerializer.Deserialize<SweepResults>(File.ReadAllText path, json)
        with :? JsonException as e ->
            raise (InvalidDataException($"{path}: not a sweep results file: {e.Message}", e))

    if isNull (box r) || isNull r.Sweep || isNull (box r.Results) then
        raise (InvalidDataException($"{path}: not a sweep results file (no sweep name or results)"))

    r

/// The subsets' column names: A, V, T, A+V, A+T, V+T, A+V+T.
let subsetNames = allSubsets |> List.map _.Name

let private title (sweep: string) (r: Results) =
    match sweep with
    | "task-weights" ->
        "Table 4 (beyond the paper): pre-training task weights (ASR / speaker identification); test WA and F1 of the TF fine-tuned from each pre-trained encoder"
    | "modality-weights" ->
        "Table 4 (beyond the paper): pre-training modality weights (audio / video / text, fixed or learned); test WA and F1 of the TF fine-tuned from each pre-trained encoder"
    | "subsets" ->
        "Table 4 (beyond the paper): every modality subset at inference: average WA and F1 over the 6 emotions, – where the model cannot run without audio; "
        + Table3.thresholdsCaption r.AblationThresholds
    | other -> $"Table 4 (beyond the paper): sweep {other}"

let private originOf (a: AblationResult) : Runs.Origin =
    {
        Run = a.Run
        Dataset = a.Dataset
        Commit = a.Commit
        Command = a.Command
    }

/// The subset sweep's ablation of a model on a subset, when it could run.
let subsetCell (r: Results) (key: string) (subset: string) =
    r.Ablations |> Array.tryFind (fun a -> a.Key = key && a.Modalities = subset)

/// The table of a sweep's results.
let build (s: SweepResults) : Table =
    let r = s.Results

    if s.Sweep = "subsets" then
        {
            Name = tableName s.Sweep
            Title = title s.Sweep r
            Groups = subsetNames
            Rows =
                [
                    for m in r.Models ->
                        let cells = subsetNames |> List.map (subsetCell r m.Key)

                        {
                            Label = m.Label
                            Dataset = joinDistinct (m.Dataset :: [ for c in List.choose id cells -> c.Dataset ])
                            Cells =
                                cells
                                |> List.map (Option.map (fun a -> pct a.AverageWA.Value, pct a.AverageF1.Value))
                            AverageCi = None
                            SeedSpread = None
                            Origins = cells |> List.choose id |> List.map originOf |> List.distinct
                        }
                ]
        }
    else
        {
            Name = tableName s.Sweep
            Title = title s.Sweep r
            Groups = emotionGroups
            Rows = [ for m in r.Models -> ours m.Label m ]
        }

let private num (x: float) =
    x.ToString("0.0", CultureInfo.InvariantCulture)

let private metric (m: Collections.Generic.IDictionary<string, float>) (key: string) =
    match m.TryGetValue key with
    | true, v -> Some v
    | _ -> None

/// One line per point on the pre-training run behind it: held-out CER, speaker accuracy, learned weights.
let pretrainingNotes (s: SweepResults) =
    [
        for p in s.Pretrainings do
            let label =
                s.Results.Models
                |> Array.tryFind (fun m -> m.Key = p.Key)
                |> Option.map _.Label
                |> Option.defaultValue p.Key

            let parts =
                [
                    match metric p.Metrics "cer" with
                    | Some v -> $"held-out CER {v:F3}"
                    | None -> ()
                    match metric p.Metrics "speaker_accuracy" with
                    | Some v -> $"speaker accuracy {v:F3}"
                    | None -> ()
                    let learned =
                        [ "audio"; "video"; "text" ]
                        |> List.choose (fun m -> metric p.Metrics $"modality_weight_{m}" |> Option.map (fun v -> m, v))

                    if not learned.IsEmpty then
                        let shown = learned |> List.map (fun (m, v) -> $"{m} {v:F3}") |> String.concat ", "
                        $"learned weights at the end {shown}"
                ]

            let said = String.concat ", " parts
            $"Pre-training of {label} ({p.Run}): {said}."
    ]

/// One line per paired difference (the subset sweep): A − B on a subset, average WA and F1 with intervals.
let differenceNotes (s: SweepResults) =
    let r = s.Results
    let level = levelText r.Bootstrap.Level

    [
        for d in (if isNull s.Differences then [||] else s.Differences) ->
            let show (e: Estimate) =
                $"{num (pct e.Value)} [{num (pct e.Low)}, {num (pct e.High)}]"

            $"{d.LabelA} − {d.LabelB} on {d.Modalities} (paired bootstrap, {level}, the same test {r.Bootstrap.Unit}s drawn for both): average WA {show d.WA}, average F1 {show d.F1} points."
    ]

/// The subset sweep's averages with their intervals, one line per model and subset ("–" where it cannot run).
let private subsetIntervals (r: Results) =
    let level = levelText r.Bootstrap.Level

    [
        ""
        $"Averages with {level} bootstrap intervals (chosen seed; resampling {r.Bootstrap.Unit}s):"
        ""
        $"| Model | Dataset | Modalities | Average WA | {level} CI | Average F1 | {level} CI |"
        "|---|---|---|---:|---|---:|---|"
        for m in r.Models do
            for subset in subsetNames do
                match subsetCell r m.Key subset with
                | Some a ->
                    let e = a.AverageWA
                    let f = a.AverageF1

                    $"| {m.Label} | {a.Dataset} | {subset} | {num (pct e.Value)} | [{num (pct e.Low)}, {num (pct e.High)}] | {num (pct f.Value)} | [{num (pct f.Low)}, {num (pct f.High)}] |"
                | None -> $"| {m.Label} | {m.Dataset} | {subset} | – | – | – | – |"
    ]

/// The table as Markdown: TableFormat's rendering, the subset intervals (subset sweep), the pre-training notes.
let markdown (s: SweepResults) =
    let t = build s

    let extra =
        [
            if s.Sweep = "subsets" then
                yield! subsetIntervals s.Results
            let notes = differenceNotes s @ pretrainingNotes s

            if not notes.IsEmpty then
                ""
                yield! notes
        ]

    TableFormat.markdown s.Results t
    + (if extra.IsEmpty then
           ""
       else
           String.Join("\n", extra) + "\n")

let private csvField (v: string) =
    if v.IndexOfAny([| ','; '"'; '\n' |]) >= 0 then
        "\"" + v.Replace("\"", "\"\"") + "\""
    else
        v

/// The table as CSV: the subset sweep in long form (model, dataset, modalities, average WA and F1 with interval
/// bounds; blank where the model cannot run), the other sweeps as TableFormat's CSV with the averages' interval
/// bounds added; provenance and pre-training notes as # comments.
let csv (s: SweepResults) =
    let r = s.Results
    let t = build s
    let b = StringBuilder()
    let line (l: string) = b.Append(l).Append('\n') |> ignore

    for p in provenance r t @ differenceNotes s @ pretrainingNotes s do
        line ("# " + p)

    let bounds (e: Estimate) =
        [ num (pct e.Value); num (pct e.Low); num (pct e.High) ]

    if s.Sweep = "subsets" then
        line "model,dataset,modalities,average_wa,average_wa_low,average_wa_high,average_f1,average_f1_low,average_f1_high"

        for m in r.Models do
            for subset in subsetNames do
                let values, dataset =
                    match subsetCell r m.Key subset with
                    | Some a -> bounds a.AverageWA @ bounds a.AverageF1, a.Dataset
                    | None -> List.replicate 6 "", m.Dataset

                line (String.Join(",", [ csvField m.Label; csvField dataset; subset ] @ values))
    else
        let groups =
            t.Groups
            |> List.collect (fun g -> [ $"{g.ToLowerInvariant()}_wa"; $"{g.ToLowerInvariant()}_f1" ])

        line (
            String.Join(
                ",",
                [ "model"; "dataset" ]
                @ groups
                @ [
                    "average_wa_low"
                    "average_wa_high"
                    "average_f1_low"
                    "average_f1_high"
                    "seeds"
                ]
            )
        )

        for m in r.Models do
            let cells =
                [
                    for e in m.PerEmotion do
                        yield! [ num (pct e.WA.Value); num (pct e.F1.Value) ]
                    yield! [ num (pct m.AverageWA.Value); num (pct m.AverageF1.Value) ]
                ]

            let ci =
                [
                    num (pct m.AverageWA.Low)
                    num (pct m.AverageWA.High)
                    num (pct m.AverageF1.Low)
                    num (pct m.AverageF1.High)
                    string m.Seeds.Length
                ]

            line (String.Join(",", [ csvField m.Label; csvField m.Dataset ] @ cells @ ci))

    b.ToString()

/// The table as LaTeX (TableFormat's), with the pre-training notes as % comments.
let latex (s: SweepResults) =
    let notes =
        differenceNotes s @ pretrainingNotes s
        |> List.map (fun n -> "% " + n + "\n")
        |> String.concat ""

    notes + TableFormat.latex s.Results (build s)

/// Writes `table4-<sweep>` as .md, .tex and .csv into `folder` (each file atomically); returns the paths.
let writeAll (folder: string) (s: SweepResults) =
    Directory.CreateDirectory folder |> ignore

    [
        for ext, text in [ "md", markdown s; "tex", latex s; "csv", csv s ] do
            let path = Path.Combine(folder, $"{tableName s.Sweep}.{ext}")
            Research.Model.Data.AtomicFile.Write(path, (fun stream -> stream.Write(UTF8Encoding(false).GetBytes text)))
            path
    ]
