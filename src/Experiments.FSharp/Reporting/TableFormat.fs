/// The tables' shared form: rows and tables in the paper's layout (percentages with one decimal, our rows labelled
/// with their dataset beside the paper's published rows), built from a results file only (Protocol.Results), and
/// rendered as Markdown, LaTeX and CSV, every rendering naming the command and commit that made it.
module Research.Experiments.TableFormat

open System
open System.Globalization
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
        /// Where our row's runs came from (their run.json); empty for the paper's rows.
        Origins: Runs.Origin list
    }

/// A table: title, column group names (each has WA and F1), rows.
type Table =
    {
        Name: string
        Title: string
        Groups: string list
        Rows: Row list
    }

/// The dataset label of the paper's published rows.
let paperDataset = "CMU-MOSEI (paper)"

/// A row of the paper's published numbers: (WA, F1) pairs in the order of the table's groups.
let reference (label: string) (values: float list) =
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
        Origins = []
    }

/// The column groups of Tables 1 and 2: the six emotions and their average.
let emotionGroups =
    [ "Happy"; "Sad"; "Anger"; "Surprise"; "Disgust"; "Fear"; "Average" ]

/// A fraction as a percentage.
let pct (x: float) = 100.0 * x

/// Our row for a model: its test metrics per emotion and on average, with intervals and the spread over seeds.
let ours (label: string) (m: ModelResult) =
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
        Origins =
            [
                for s in m.Seeds ->
                    ({
                        Run = s.Run
                        Dataset = s.Dataset
                        Commit = s.Commit
                        Command = s.Command
                    }
                    : Runs.Origin)
            ]
    }

/// The results of the model with `key`, when the results hold it.
let model (r: Results) (key: string) =
    r.Models |> Array.tryFind (fun m -> m.Key = key)

/// Keys of the three emotion models in results files.
let lateFusionKey, scratchKey, pretrainedKey = "late-fusion", "tf", "tf-pretrained"

/// A table of per-emotion results (Tables 1 and 2): the paper's rows, then ours for the models of `models` (key,
/// label) that the results hold, in that order.
let emotionTable (name: string) (title: string) (paper: Row list) (models: (string * string) list) (r: Results) =
    {
        Name = name
        Title = title
        Groups = emotionGroups
        Rows =
            paper
            @ [
                for key, label in models do
                    match model r key with
                    | Some m -> ours label m
                    | None -> ()
            ]
    }

let private num (x: float) =
    x.ToString("0.0", CultureInfo.InvariantCulture)

let private cellText =
    function
    | Some(wa, f1) -> [ num wa; num f1 ]
    | None -> [ "–"; "–" ]

/// The level of an interval as a percentage, e.g. "95 %".
let levelText (level: float) =
    (100.0 * level).ToString("0.##", CultureInfo.InvariantCulture) + " %"

/// The bootstrap of the test intervals in words: level, unit, clusters, resamples, seed.
let bootstrapNote (r: Results) =
    let b = r.Bootstrap

    let count =
        if r.BootstrapClusters = 1 then
            $"1 {b.Unit}"
        else
            $"{r.BootstrapClusters} {b.Unit}s"

    let over =
        if b.Unit = Metrics.BootstrapUnit.Segment then
            $"over test segments, each on its own ({count})"
        else
            $"over whole test {b.Unit}s ({count}, all of a {b.Unit}'s segments drawn together)"

    let degenerate =
        if r.BootstrapClusters = 1 then
            $" With one {b.Unit} every resample is the test split itself: the intervals have width 0 and show no uncertainty."
        else
            ""

    $"test intervals: {levelText b.Level} percentile bootstrap {over}; unit {b.Unit}, {b.Resamples} resamples, seed {b.Seed}, level {b.Level.ToString(CultureInfo.InvariantCulture)}.{degenerate}"

/// For each distinct value of `f` over our rows' runs (in order), the labels of the rows whose runs have it.
let private rowsBy (f: Runs.Origin -> string) (t: Table) =
    [
        for row in t.Rows do
            for o in row.Origins -> f o, row.Label
    ]
    |> List.groupBy fst
    |> List.map (fun (value, rows) -> value, rows |> List.map snd |> List.distinct)

/// "value (row, row); value (row)" for values that differ between rows.
let private byRow (format: string -> string) (groups: (string * string list) list) =
    groups
    |> List.map (fun (value, rows) -> $"""{format value} ({String.Join(", ", rows)})""")
    |> String.concat "; "

/// Where a table's rows came from, taken from the runs behind them (their run.json): the command and commit that made
/// the runs, and, when rows come from runs of different commits, commands or datasets, which row has which.
let origins (t: Table) =
    let commits, commands, datasets =
        rowsBy _.Commit t, rowsBy _.Command t, rowsBy _.Dataset t

    let code (c: string) = $"`{c}`"

    [
        match commits, commands with
        | [], _ -> ()
        | [ commit, _ ], [ command, _ ] -> $"Our rows come from runs made by `{command}` at commit {commit}."
        | _ ->
            match commits with
            | [ commit, _ ] -> $"Our rows come from runs at commit {commit}."
            | _ -> $"Our rows come from runs of different commits: {byRow id commits}."

            match commands with
            | [ command, _ ] -> $"Their runs were made by `{command}`."
            | _ -> $"Their runs were made by different commands: {byRow code commands}."
        if datasets.Length > 1 then
            $"Our rows come from runs on different datasets: {byRow id datasets}; their numbers are not comparable."
    ]

/// Where a table came from: its runs' command, commit and datasets (see `origins`), when it was written, and a note
/// on datasets.
let provenance (r: Results) (t: Table) =
    [
        yield! origins t
        $"Written on {r.Created}."
        $"Our rows: {r.Dataset}; each model trained from {r.Seeds} seeds, the run chosen on dev by (average WA + average F1) / 2, thresholds tuned on dev; {bootstrapNote r}"
        $"Rows labelled \"{paperDataset}\" are the paper's published numbers, for reference; numbers on different datasets are not comparable."
    ]

/// The table as Markdown.
let markdown (r: Results) (t: Table) =
    let b = StringBuilder()
    let line (s: string) = b.Append(s).Append('\n') |> ignore
    line $"# {t.Title}"
    line ""

    for p in provenance r t do
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
        let level = levelText r.Bootstrap.Level

        line
            $"Our rows' averages with {level} bootstrap intervals (chosen seed; resampling {r.Bootstrap.Unit}s) and the spread across seeds (mean ± sd):"

        line ""

        line $"| Model | Dataset | Average WA | {level} CI | Average F1 | {level} CI | seeds | WA across seeds | F1 across seeds |"
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

    for p in provenance r t do
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

    for p in provenance r t do
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
