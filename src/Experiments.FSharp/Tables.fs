/// Tables 1–3 of the paper, from a results file only (Protocol.Results): Markdown, LaTeX and CSV in the paper's
/// layout, the paper's published CMU-MOSEI numbers as reference rows beside ours, every row labelled with its dataset,
/// every file naming the command and commit that made it. Numbers are percentages with one decimal, as in the paper.
module Research.Experiments.Tables

open System
open System.Globalization
open System.IO
open System.Text
open Research.Experiments.Protocol

/// A row: label, dataset, then (WA, F1) pairs as percentages; None = not reported.
type Row =
    {
        Label: string
        Dataset: string
        Cells: (float * float) option list
        /// Intervals of the averages (95 %, percent) for our rows: WA low, WA high, F1 low, F1 high.
        AverageCi: (float * float * float * float) option
        /// Mean ± sd of the test averages across seeds, and the seed count.
        SeedSpread: (float * float * float * float * int) option
    }

/// A table: title, column group names (each has WA and F1), rows.
type Table =
    {
        Name: string
        Title: string
        Groups: string list
        Rows: Row list
    }

let private paperDataset = "CMU-MOSEI (paper)"

let private reference (label: string) (values: float list) =
    {
        Label = label
        Dataset = paperDataset
        Cells =
            values
            |> List.chunkBySize 2
            |> List.map (function
                | [ wa; f1 ] -> Some(wa, f1)
                | _ -> None)
        AverageCi = None
        SeedSpread = None
    }

let private emotionGroups =
    [ "Happy"; "Sad"; "Anger"; "Surprise"; "Disgust"; "Fear"; "Average" ]

/// The paper's Table 1 (baselines and published systems on CMU-MOSEI), as printed.
let paperTable1 =
    [
        reference
            "M-ELMo + NN [10] (A+T)"
            [
                67.0
                65.2
                63.1
                72.0
                65.8
                74.7
                63.8
                83.3
                74.2
                81.7
                63.2
                85.1
                66.2
                77.0
            ]
        reference
            "Graph-MFN [21]"
            [
                66.3
                66.3
                60.4
                66.9
                62.6
                72.8
                53.7
                85.5
                69.1
                76.6
                62.0
                89.9
                62.3
                76.3
            ]
        reference
            "CIM-Att-STL [15]"
            [
                53.6
                67.0
                61.4
                72.4
                66.8
                75.9
                60.6
                86.0
                72.7
                81.9
                62.2
                87.9
                62.8
                78.6
            ]
        reference
            "Late Fusion"
            [
                66.2
                66.3
                63.7
                71.8
                66.2
                73.6
                62.2
                87.8
                74.1
                83.3
                62.3
                86.6
                65.8
                78.2
            ]
        reference
            "TF"
            [
                67.8
                67.5
                63.9
                72.9
                66.8
                74.5
                60.6
                88.0
                74.8
                82.3
                64.4
                86.1
                66.4
                78.5
            ]
    ]

/// The paper's Table 2 (embeddings learned on VoxCeleb2, fine-tuned on CMU-MOSEI).
let paperTable2 =
    [
        reference
            "Baseline"
            [
                67.8
                67.5
                63.9
                72.9
                66.8
                74.5
                60.6
                88.0
                74.8
                82.3
                64.4
                86.1
                66.4
                78.5
            ]
        reference
            "Embeddings from the Multi-task model"
            [
                67.5
                67.7
                65.4
                71.3
                67.0
                75.8
                63.9
                87.8
                74.9
                83.4
                64.2
                86.9
                67.1
                78.8
            ]
    ]

/// The paper's Table 3 (average WA and F1 with modalities removed at inference).
let paperTable3 =
    [
        reference "Baseline" [ 57.2; 74.4; 60.3; 76.3; 65.8; 77.8; 66.5; 78.5 ]
        reference "Embeddings from the Multi-task model" [ 57.6; 75.1; 60.9; 76.4; 66.2; 78.4; 67.1; 78.8 ]
    ]

let private pct (x: float) = 100.0 * x

let private ours (label: string) (m: ModelResult) =
    let spread (xs: float[]) =
        let mean = Array.average xs

        let sd =
            if xs.Length < 2 then
                0.0
            else
                sqrt ((xs |> Array.sumBy (fun x -> (x - mean) ** 2.0)) / float (xs.Length - 1))

        pct mean, pct sd

    let waMean, waSd = spread (m.Seeds |> Array.map (fun s -> s.TestWA))
    let f1Mean, f1Sd = spread (m.Seeds |> Array.map (fun s -> s.TestF1))

    {
        Label = label
        Dataset = m.Dataset
        Cells =
            [
                for e in m.PerEmotion -> Some(pct e.WA.Value, pct e.F1.Value)
                yield Some(pct m.AverageWA.Value, pct m.AverageF1.Value)
            ]
        AverageCi = Some(pct m.AverageWA.Low, pct m.AverageWA.High, pct m.AverageF1.Low, pct m.AverageF1.High)
        SeedSpread = Some(waMean, waSd, f1Mean, f1Sd, m.Seeds.Length)
    }

let private model (r: Results) (key: string) =
    r.Models |> Array.tryFind (fun m -> m.Key = key)

/// Keys of the three emotion models in results files.
let lateFusionKey, scratchKey, pretrainedKey = "late-fusion", "tf", "tf-pretrained"

/// Table 1: the paper's rows, then our late fusion and TF.
let table1 (r: Results) =
    {
        Name = "table1"
        Title = "Table 1: Baseline results. TF is the transformer-based model"
        Groups = emotionGroups
        Rows =
            paperTable1
            @ [
                for key, label in [ lateFusionKey, "Late Fusion"; scratchKey, "TF" ] do
                    match model r key with
                    | Some m -> ours label m
                    | None -> ()
            ]
    }

/// Table 2: the TF baseline against the transformer fine-tuned from the multi-task pre-trained encoder.
let table2 (r: Results) =
    {
        Name = "table2"
        Title = "Table 2: Weighted accuracy and F1-score with embeddings learned by multi-task pre-training"
        Groups = emotionGroups
        Rows =
            paperTable2
            @ [
                for key, label in
                    [
                        scratchKey, "Baseline"
                        pretrainedKey, "Embeddings from the Multi-task model"
                    ] do
                    match model r key with
                    | Some m -> ours label m
                    | None -> ()
            ]
    }

/// Table 3: average WA and F1 of the chosen TF and pre-trained models with modalities removed at inference.
let table3 (r: Results) =
    let columns = paperAblations |> List.map (fun a -> a.Name)

    let row key label =
        let found =
            columns
            |> List.map (fun c -> r.Ablations |> Array.tryFind (fun a -> a.Key = key && a.Modalities = c))

        if found |> List.forall Option.isNone then
            None
        else
            let dataset = found |> List.choose id |> List.map (fun a -> a.Dataset) |> List.head

            Some
                {
                    Label = label
                    Dataset = dataset
                    Cells =
                        found
                        |> List.map (Option.map (fun a -> pct a.AverageWA.Value, pct a.AverageF1.Value))
                    AverageCi = None
                    SeedSpread = None
                }

    {
        Name = "table3"
        Title =
            "Table 3: Ablation studies with and without learned embeddings: average weighted accuracy and F1-score over the 6 emotions, modalities removed at inference"
        Groups = columns
        Rows =
            paperTable3
            @ ([
                row scratchKey "Baseline"
                row pretrainedKey "Embeddings from the Multi-task model"
               ]
               |> List.choose id)
    }

let private num (x: float) =
    x.ToString("0.0", CultureInfo.InvariantCulture)

let private cellText =
    function
    | Some(wa, f1) -> [ num wa; num f1 ]
    | None -> [ "–"; "–" ]

/// Where a table came from: command, commit, time, and a note on datasets.
let provenance (r: Results) =
    [
        $"Made by `{r.Command}` at commit {r.Commit} on {r.Created}."
        $"Our rows: {r.Dataset}; each model trained from {r.Seeds} seeds, the run chosen on dev by (average WA + average F1) / 2, thresholds tuned on dev; test intervals: 95 %% percentile bootstrap over test segments ({r.BootstrapResamples} resamples)."
        $"Rows labelled \"{paperDataset}\" are the paper's published numbers, for reference; numbers on different datasets are not comparable."
    ]

/// The table as Markdown.
let markdown (r: Results) (t: Table) =
    let b = StringBuilder()
    let line (s: string) = b.Append(s).Append('\n') |> ignore
    line $"# {t.Title}"
    line ""

    for p in provenance r do
        line p

    line ""
    let groups = t.Groups |> List.collect (fun g -> [ $"{g} WA"; $"{g} F1" ])
    line ("| Model | Dataset | " + String.Join(" | ", groups) + " |")
    line ("|---|---|" + String.replicate groups.Length "---:|")

    for row in t.Rows do
        let cells = row.Cells |> List.collect cellText
        line ($"| {row.Label} | {row.Dataset} | " + String.Join(" | ", cells) + " |")

    let withCi = t.Rows |> List.filter (fun r -> r.AverageCi.IsSome)

    if not withCi.IsEmpty then
        line ""
        line "Our rows' averages with 95 % bootstrap intervals (chosen seed) and the spread across seeds (mean ± sd):"
        line ""
        line "| Model | Dataset | Average WA | 95 % CI | Average F1 | 95 % CI | seeds | WA across seeds | F1 across seeds |"
        line "|---|---|---:|---|---:|---|---:|---|---|"

        for row in withCi do
            let wa, f1 =
                match List.last row.Cells with
                | Some(wa, f1) -> wa, f1
                | None -> nan, nan

            let waLo, waHi, f1Lo, f1Hi = row.AverageCi.Value
            let waMean, waSd, f1Mean, f1Sd, n = row.SeedSpread.Value

            line
                $"| {row.Label} | {row.Dataset} | {num wa} | [{num waLo}, {num waHi}] | {num f1} | [{num f1Lo}, {num f1Hi}] | {n} | {num waMean} ± {num waSd} | {num f1Mean} ± {num f1Sd} |"

    b.ToString()

let private csvField (s: string) =
    if s.IndexOfAny([| ','; '"'; '\n' |]) >= 0 then
        "\"" + s.Replace("\"", "\"\"") + "\""
    else
        s

/// The table as CSV: one line per row, blank cells for values not reported; provenance as # comments.
let csv (r: Results) (t: Table) =
    let b = StringBuilder()

    for p in provenance r do
        b.Append("# ").Append(p).Append('\n') |> ignore

    let groups =
        t.Groups
        |> List.collect (fun g -> [ $"{g.ToLowerInvariant()}_wa"; $"{g.ToLowerInvariant()}_f1" ])

    b.Append(String.Join(",", [ "model"; "dataset" ] @ groups)).Append('\n')
    |> ignore

    for row in t.Rows do
        let cells =
            row.Cells
            |> List.collect (function
                | Some(wa, f1) -> [ num wa; num f1 ]
                | None -> [ ""; "" ])

        b.Append(String.Join(",", [ csvField row.Label; csvField row.Dataset ] @ cells)).Append('\n')
        |> ignore

    b.ToString()

let private tex (s: string) =
    s.Replace("\\", "\\textbackslash{}").Replace("&", "\\&").Replace("%", "\\%").Replace("_", "\\_").Replace("#", "\\#")

/// The table as a LaTeX tabular (booktabs), provenance as % comments.
let latex (r: Results) (t: Table) =
    let b = StringBuilder()
    let line (s: string) = b.Append(s).Append('\n') |> ignore

    for p in provenance r do
        line ("% " + p)

    line "\\begin{table}[t]"
    line "\\centering"
    line ("\\caption{" + tex t.Title + "}")
    line ("\\begin{tabular}{ll" + String.replicate (2 * t.Groups.Length) "r" + "}")
    line "\\toprule"

    line (
        "Model & Dataset & "
        + String.Join(" & ", t.Groups |> List.map (fun g -> "\\multicolumn{2}{c}{" + tex g + "}"))
        + " \\\\"
    )

    line (
        " & & "
        + String.Join(" & ", t.Groups |> List.map (fun _ -> "WA & F1"))
        + " \\\\"
    )

    line "\\midrule"

    for row in t.Rows do
        let cells =
            row.Cells
            |> List.collect cellText
            |> List.map (fun c -> if c = "–" then "--" else c)

        line (
            tex row.Label
            + " & "
            + tex row.Dataset
            + " & "
            + String.Join(" & ", cells)
            + " \\\\"
        )

    line "\\bottomrule"
    line "\\end{tabular}"
    line "\\end{table}"
    b.ToString()

/// The three tables of a results set.
let all (r: Results) = [ table1 r; table2 r; table3 r ]

/// Writes table1–3 as .md, .tex and .csv into `folder` (each file atomically); returns the paths.
let writeAll (folder: string) (r: Results) =
    Directory.CreateDirectory folder |> ignore

    [
        for t in all r do
            for ext, text in [ "md", markdown r t; "tex", latex r t; "csv", csv r t ] do
                let path = Path.Combine(folder, $"{t.Name}.{ext}")
                let temp = path + ".tmp"
                File.WriteAllText(temp, text)
                File.Move(temp, path, true)
                path
    ]
