/// The protocol where the table numbers are made, on fixture runs whose right answers are known: tiny runs trained
/// through `Protocol.runExperiment` (so their folders are what the protocol itself writes and reuses), then given
/// constructed dev and test predictions (`FineTune.writePredictions`); `Protocol.ablate` on a trained run; and
/// `TableFiles.writeAll` and `Figures` on results whose three models differ in seeds, spread and chosen seed.
module Research.Model.Tests.ProtocolFixtureTests

open System
open System.IO
open System.Text.Json
open Expecto
open Plotly.NET
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Protocol
open Research.Model.Tests.ReferenceFiles

/// `n` items' labels: item i shows emotion e when (i + shift·e) mod period = 0, so every emotion has both classes.
let private labels (n: int) (period: int) (shift: int) =
    Array.init n (fun i -> Array.init 6 (fun e -> (i + shift * e) % period = 0))

/// Scores that separate the labels perfectly (WA = F1 = 1 at thresholds tuned on them).
let private perfect (y: bool[][]) =
    y |> Array.map (Array.map (fun l -> if l then 0.9 else 0.1))

/// Scores: the perfect score with probability `q`, else a random one (seeded).
let private mixed (q: float) (seed: int) (y: bool[][]) =
    let rng = Random seed

    y
    |> Array.map (
        Array.map (fun l ->
            let r = rng.NextDouble()
            let s = rng.NextDouble()
            if r < q then (if l then 0.9 else 0.1) else s)
    )

let private split (name: string) (y: bool[][]) (scores: float[][]) : Metrics.Split =
    {
        Name = name
        Labels = y
        Scores = scores
    }

let private devLabels = labels 12 3 2
let private testLabels = labels 12 4 1

let private settings: Settings =
    {
        Seeds = [ 3; 1; 2 ]
        Bootstrap =
            {
                Resamples = 50
                Seed = 0
                Level = 0.95
                Unit = Metrics.BootstrapUnit.Segment
            }
        Dataset = "fixture data"
        ClusterOf = id
        Fresh = false
        AblationThresholds = Retuned
    }

/// A split with its item ids, as `report` takes the test split (segment resampling: each id its own cluster).
let private withIds (s: Metrics.Split) =
    Array.init s.Labels.Length (fun i -> $"{s.Name}-{i}"), s

/// Writes a run's dev and test predictions (the files a finished run's report is read from).
let private writeRun (run: string) (dev: Metrics.Split) (test: Metrics.Split) =
    let ids (s: Metrics.Split) =
        [| for i in 0 .. s.Labels.Length - 1 -> $"{s.Name}{i:D2}" |]

    FineTune.writePredictions (Path.Combine(run, "dev.csv")) (ids dev) dev
    FineTune.writePredictions (Path.Combine(run, "test.csv")) (ids test) test

let private readSplit (path: string) = snd (Evaluate.readSplit path)

/// A tiny fine-tuning configuration on the tiny corpus's stores (a few seconds per seed).
let private tinyConfig (stores: string) =
    { scratch demoFineTuning with
        Name = "tf"
        Stores = stores
        Model =
            { demoModel with
                DModel = 16
                Heads = 2
                FeedForward = 16
                AudioLayers = 1
                CrossModalLayers = 1
            }
        Budget =
            { demoFineTuning.Budget with
                Steps = 4
                BatchSize = 2
                Warmup = 2
                LrFactor = 2.0
                EvaluateEvery = 2
                CheckpointEvery = 4
            }
        Threads = Environment.ProcessorCount
    }

let private experiment (stores: string) =
    {
        Key = "tf"
        Label = "TF"
        Model = Transformer(tinyConfig stores)
    }

let private seedOf (r: ModelResult) (seed: int) =
    r.Seeds |> Array.find (fun s -> s.Seed = seed)

let private close (what: string) (got: float) (expected: float) =
    Expect.floatClose Accuracy.veryHigh got expected what

/// The model result's test numbers are `report` of the dev and test splits: thresholds from dev, test scored with
/// bootstrap intervals.
let private expectReportOf (r: ModelResult) (dev: Metrics.Split) (test: Metrics.Split) =
    let thresholds = Metrics.tune dev
    let point = Metrics.score thresholds test
    let ci = Metrics.bootstrap settings.Bootstrap thresholds test
    close "average WA" r.AverageWA.Value point.AverageWA
    close "average F1" r.AverageF1.Value point.AverageF1
    close "average WA low" r.AverageWA.Low ci.AverageWA.Low
    close "average WA high" r.AverageWA.High ci.AverageWA.High
    close "average F1 low" r.AverageF1.Low ci.AverageF1.Low
    close "average F1 high" r.AverageF1.High ci.AverageF1.High

    for e in 0..5 do
        close $"{Metrics.emotions[e]} WA" r.PerEmotion[e].WA.Value point.PerEmotion[e].WA
        close $"{Metrics.emotions[e]} F1" r.PerEmotion[e].F1.Value point.PerEmotion[e].F1

/// Dev and test predictions per seed: seed 2 is best on dev (perfect), seed 1 best on test (perfect), seed 3 between.
let private fixtureSplits =
    Map.ofList
        [
            1, (split "dev" devLabels (mixed 0.3 101 devLabels), split "test" testLabels (perfect testLabels))
            2, (split "dev" devLabels (perfect devLabels), split "test" testLabels (mixed 0.3 202 testLabels))
            3, (split "dev" devLabels (mixed 0.6 303 devLabels), split "test" testLabels (mixed 0.6 304 testLabels))
        ]

// ---------------------------------------------------------------------------------------------------------------
// Results for the tables and figures: three models with different seed counts, spreads and chosen seeds, built
// with the protocol's own functions (choose, report) from constructed splits.

/// A model result from (seed, dev, test) splits, as `runExperiment` makes it from runs.
let private modelResult (key: string) (label: string) (seeds: (int * Metrics.Split * Metrics.Split) list) =
    let chosen = choose [ for s, d, _ in seeds -> s, Metrics.devReport d ]
    let _, dev, test = seeds |> List.find (fun (s, _, _) -> s = chosen)
    let perEmotion, wa, f1, clusters = report settings dev (withIds test)

    {
        Key = key
        Label = label
        Dataset = "fixture data"
        Seeds =
            [|
                for s, d, t in seeds ->
                    let r = Metrics.evaluate d t

                    {
                        Seed = s
                        Run = $"runs/{key}-seed{s}"
                        Dataset = "fixture data"
                        Commit = "0000000"
                        Command = "fixture"
                        DevSelection = Metrics.selectionScore (Metrics.devReport d)
                        TestWA = r.AverageWA
                        TestF1 = r.AverageF1
                    }
            |]
        Chosen = chosen
        PerEmotion = perEmotion
        AverageWA = wa
        AverageF1 = f1
        TestClusters = clusters
    }

let private seedsOf (qualities: (int * float * float) list) (salt: int) =
    [
        for seed, devQ, testQ in qualities ->
            seed,
            split "dev" devLabels (mixed devQ (salt + 10 * seed) devLabels),
            split "test" testLabels (mixed testQ (salt + 10 * seed + 1) testLabels)
    ]

let private tableResults =
    lazy
        (let models =
            [|
                // two seeds, the second chosen, far apart on test
                modelResult TableFormat.lateFusionKey "Late Fusion" (seedsOf [ 1, 0.2, 0.9; 2, 0.7, 0.1 ] 1000)
                // three seeds, the first chosen, close on test
                modelResult TableFormat.scratchKey "TF" (seedsOf [ 1, 0.9, 0.5; 2, 0.4, 0.45; 3, 0.5, 0.55 ] 2000)
                // four seeds, the third chosen
                modelResult
                    TableFormat.pretrainedKey
                    "Embeddings from the Multi-task model"
                    (seedsOf [ 1, 0.1, 0.8; 2, 0.3, 0.2; 3, 0.95, 0.7; 4, 0.5, 0.3 ] 3000)
            |]

         let ablations =
             [|
                 for key, label, salt in
                     [
                         TableFormat.scratchKey, "TF", 4000
                         TableFormat.pretrainedKey, "Embeddings from the Multi-task model", 5000
                     ] do
                     for i, a in List.indexed paperAblations ->
                         let q = 0.2 + 0.15 * float i + (if salt = 5000 then 0.05 else 0.0)
                         let dev = split "dev" devLabels (mixed q (salt + i) devLabels)
                         let test = split "test" testLabels (mixed q (salt + i + 100) testLabels)
                         let per, wa, f1, _ = report settings dev (withIds test)

                         {
                             Key = key
                             Label = label
                             Run = $"runs/{key}-seed1"
                             Dataset = "fixture data"
                             Commit = "0000000"
                             Command = "fixture"
                             Modalities = a.Name
                             Thresholds = "retuned"
                             AverageWA = wa
                             AverageF1 = f1
                             PerEmotion = per
                         }
             |]

         {
             Dataset = "fixture data"
             Command = "fixture"
             Commit = "0000000"
             Created = "2026-12-03 00:00 +00:00"
             Machine = "fixture machine"
             Seeds = 4
             Bootstrap = settings.Bootstrap
             BootstrapClusters = testLabels.Length
             AblationThresholds = "retuned"
             Models = models
             Ablations = ablations
             Pretraining = Collections.Generic.Dictionary(dict [ "cer", 0.5 ])
             PretrainingRun = "runs/none"
         })

let private num (x: float) =
    (100.0 * x).ToString("0.0", Globalization.CultureInfo.InvariantCulture)

/// The CSV row of a model in a table: label, dataset, per-emotion WA/F1 and the averages, from that model's result.
let private csvRow (label: string) (m: ModelResult) =
    String.Join(
        ",",
        [
            label
            m.Dataset
            for e in m.PerEmotion do
                num e.WA.Value
                num e.F1.Value
            num m.AverageWA.Value
            num m.AverageF1.Value
        ]
    )

/// The Markdown line of a model's intervals and its spread over seeds (sample standard deviation), by hand.
let private spreadRow (label: string) (m: ModelResult) =
    let meanSd (xs: float[]) =
        let mean = Array.average xs

        let sd =
            sqrt ((xs |> Array.sumBy (fun x -> (x - mean) * (x - mean))) / float (xs.Length - 1))

        $"{num mean} ± {num sd}"

    let wa = m.Seeds |> Array.map (fun s -> s.TestWA)
    let f1 = m.Seeds |> Array.map (fun s -> s.TestF1)

    $"| {label} | {m.Dataset} | {num m.AverageWA.Value} | [{num m.AverageWA.Low}, {num m.AverageWA.High}] | {num m.AverageF1.Value} | [{num m.AverageF1.Low}, {num m.AverageF1.High}] | {m.Seeds.Length} | {meanSd wa} | {meanSd f1} |"

let private traces (chart: GenericChart) =
    let figure = JsonDocument.Parse(GenericChart.toFigureJson chart).RootElement

    [
        for t in figure.GetProperty("data").EnumerateArray() ->
            t.GetProperty("name").GetString(), [| for y in t.GetProperty("y").EnumerateArray() -> y.GetDouble() |]
    ]
    |> Map.ofList

[<Tests>]
let tests =
    testSequenced
    <| testList
        "ProtocolFixtures"
        [
            test "report: thresholds from dev, intervals on test; swapping dev and test changes the numbers" {
                let dev, test = fixtureSplits[3]
                let perEmotion, wa, f1, _ = report settings dev (withIds test)
                let ci = Metrics.bootstrap settings.Bootstrap (Metrics.tune dev) test
                close "WA" wa.Value ci.AverageWA.Value
                close "WA low" wa.Low ci.AverageWA.Low
                close "F1 high" f1.High ci.AverageF1.High
                close "fear F1" perEmotion[5].F1.Value ci.PerEmotion[5].F1.Value
                let _, swappedWA, swappedF1, _ = report settings test (withIds dev)
                Expect.notEqual (swappedWA.Value, swappedF1.Value) (wa.Value, f1.Value) "dev and test are not interchangeable"
            }

            test "runExperiment chooses on dev only, reports the chosen seed's test at its dev thresholds; ties go to the smaller seed" {
                let root =
                    Path.Combine(Path.GetTempPath(), $"protocol-fixtures-{Environment.ProcessId}")

                try
                    let e = experiment (ProtocolTests.stores.Force())
                    // trains the three tiny runs (the folders runExperiment reuses below)
                    let trained = runExperiment root settings e
                    Expect.equal (trained.Seeds |> Array.map (fun s -> s.Seed)) [| 3; 1; 2 |] "every seed, in the settings' order"
                    let runOf seed = (seedOf trained seed).Run

                    let write (splits: Map<int, Metrics.Split * Metrics.Split>) =
                        for KeyValue(seed, (dev, test)) in splits do
                            writeRun (runOf seed) dev test

                    // 1. seed 2 is best on dev, seed 1 on test: seed 2 is chosen and its test is reported
                    write fixtureSplits
                    let r = runExperiment root settings e
                    Expect.equal r.Chosen 2 "the best dev selection score"

                    for seed in [ 1; 2; 3 ] do
                        let dev, test = fixtureSplits[seed]
                        let s = seedOf r seed
                        close $"seed {seed} dev selection" s.DevSelection (Metrics.selectionScore (Metrics.devReport dev))
                        close $"seed {seed} test WA" s.TestWA (Metrics.evaluate dev test).AverageWA

                    Expect.isGreaterThan (seedOf r 1).TestWA (seedOf r 2).TestWA "test would have preferred seed 1"
                    let dev2, test2 = fixtureSplits[2]
                    expectReportOf r dev2 test2
                    // the fixture tells dev from test: thresholds from test applied to dev give other numbers
                    Expect.notEqual
                        (Metrics.score (Metrics.tune test2) dev2).AverageWA
                        r.AverageWA.Value
                        "a report with dev and test swapped would differ"

                    // 2. other test predictions (seed 2's and seed 1's swapped): other numbers, the same choice
                    let swapped =
                        fixtureSplits
                        |> Map.add 1 (fst fixtureSplits[1], snd fixtureSplits[2])
                        |> Map.add 2 (fst fixtureSplits[2], snd fixtureSplits[1])

                    write swapped
                    let r2 = runExperiment root settings e
                    Expect.equal r2.Chosen 2 "test predictions never change the choice"
                    Expect.notEqual r2.AverageWA.Value r.AverageWA.Value "the reported numbers follow the test predictions"
                    expectReportOf r2 (fst swapped[2]) (snd swapped[2])

                    for seed in [ 1; 2; 3 ] do
                        close $"seed {seed}: dev selection unchanged" (seedOf r2 seed).DevSelection (seedOf r seed).DevSelection

                    // 3. other dev predictions: the choice follows dev
                    let devMoved =
                        swapped
                        |> Map.add 2 (split "dev" devLabels (mixed 0.3 999 devLabels), snd swapped[2])
                        |> Map.add 3 (split "dev" devLabels (perfect devLabels), snd swapped[3])

                    write devMoved
                    let r3 = runExperiment root settings e
                    Expect.equal r3.Chosen 3 "the new best on dev"
                    expectReportOf r3 (fst devMoved[3]) (snd devMoved[3])

                    // 4. a tie on dev (seeds 3 and 1 both perfect; listed 3 first): the smaller seed, as `choose` documents
                    let tied =
                        devMoved
                        |> Map.add 1 (split "dev" devLabels (perfect devLabels), snd devMoved[1])

                    write tied
                    let r4 = runExperiment root settings e
                    close "a tie" (seedOf r4 1).DevSelection (seedOf r4 3).DevSelection
                    Expect.equal r4.Chosen 1 "ties go to the smaller seed"
                    expectReportOf r4 (fst tied[1]) (snd tied[1])
                finally
                    if Directory.Exists root then
                        Directory.Delete(root, true)
            }

            test "ablate with every modality reproduces the run's own predictions; without them it scores its own" {
                let root =
                    Path.Combine(Path.GetTempPath(), $"protocol-ablate-{Environment.ProcessId}")

                try
                    let one = { settings with Seeds = [ 5 ] }
                    let trained = runExperiment root one (experiment (ProtocolTests.stores.Force()))
                    let run = trained.Seeds[0].Run
                    let all = paperAblations |> List.find (fun a -> a.Name = "A+V+T")
                    let audio = paperAblations |> List.find (fun a -> a.Name = "A")
                    let folder name = Path.Combine(root, "ablations", name)
                    let full = ablate one run (folder "A+V+T") all ("tf", "TF")
                    let scores (path: string) = (readSplit path).Scores

                    let maxDiff (a: float[][]) (b: float[][]) =
                        Array.map2 (Array.map2 (fun x y -> abs (x - y))) a b
                        |> Array.concat
                        |> Array.max

                    for name in [ "dev.csv"; "test.csv" ] do
                        Expect.isLessThan
                            (maxDiff (scores (Path.Combine(folder "A+V+T", name))) (scores (Path.Combine(run, name))))
                            1e-6
                            $"{name}: all modalities kept = the run's own predictions"

                    let fromRun = runExperiment root one (experiment (ProtocolTests.stores.Force()))
                    close "the same average WA as the run's report" full.AverageWA.Value fromRun.AverageWA.Value
                    close "the same average F1 as the run's report" full.AverageF1.Value fromRun.AverageF1.Value
                    Expect.equal full.Modalities "A+V+T" "named by its modalities"

                    let a = ablate one run (folder "A") audio ("tf", "TF")
                    let devA = readSplit (Path.Combine(folder "A", "dev.csv"))
                    let testA = readSplit (Path.Combine(folder "A", "test.csv"))

                    Expect.isGreaterThan (maxDiff devA.Scores (scores (Path.Combine(run, "dev.csv")))) 1e-6 "audio only scores differently"

                    let per, wa, f1, _ = report one devA (withIds testA)
                    close "A: average WA from its own predictions" a.AverageWA.Value wa.Value
                    close "A: average F1 from its own predictions" a.AverageF1.Value f1.Value
                    close "A: happy WA" a.PerEmotion[0].WA.Value per[0].WA.Value
                finally
                    if Directory.Exists root then
                        Directory.Delete(root, true)
            }

            test "the fixture's three models differ in seeds, spread and chosen seed" {
                let r = tableResults.Force()
                Expect.equal [ for m in r.Models -> m.Seeds.Length ] [ 2; 3; 4 ] "seed counts"
                Expect.equal [ for m in r.Models -> m.Chosen ] [ 2; 1; 3 ] "chosen seeds (best dev selection)"
                let averages = [ for m in r.Models -> m.AverageWA.Value ]
                Expect.equal (List.distinct averages).Length 3 "different test averages"
            }

            test "TableFiles.writeAll: every row carries the numbers of its own model, in .csv, .md and .tex" {
                let r = tableResults.Force()
                use dir = new TempDir()
                let paths = TableFiles.writeAll dir.Path r

                Expect.equal
                    (paths |> List.map Path.GetFileName |> List.sort)
                    ([
                        for t in 1..3 do
                            for ext in [ "csv"; "md"; "tex" ] -> $"table{t}.{ext}"
                     ]
                     |> List.sort)
                    "three tables in three formats"

                let text name =
                    File.ReadAllText(Path.Combine(dir.Path, name))

                let csvLines name =
                    (text name).Split('\n')
                    |> Array.filter (fun l -> l.Contains "fixture data" && not (l.StartsWith "#"))

                let model key =
                    r.Models |> Array.find (fun m -> m.Key = key)

                let late, tf, pre =
                    model TableFormat.lateFusionKey, model TableFormat.scratchKey, model TableFormat.pretrainedKey

                Expect.equal (csvLines "table1.csv") [| csvRow "Late Fusion" late; csvRow "TF" tf |] "table 1 rows"

                Expect.equal
                    (csvLines "table2.csv")
                    [| csvRow "Baseline" tf; csvRow "Embeddings from the Multi-task model" pre |]
                    "table 2 rows"

                let md1 = text "table1.md"
                let md2 = text "table2.md"

                for label, m, md in
                    [
                        "Late Fusion", late, md1
                        "TF", tf, md1
                        "Baseline", tf, md2
                        "Embeddings from the Multi-task model", pre, md2
                    ] do
                    Expect.stringContains md (spreadRow label m) $"{label}: intervals and spread over its own seeds"

                let ablationRow label key =
                    let cells =
                        [
                            for a in paperAblations do
                                let x = r.Ablations |> Array.find (fun x -> x.Key = key && x.Modalities = a.Name)
                                num x.AverageWA.Value
                                num x.AverageF1.Value
                        ]

                    String.Join(",", [ label; "fixture data" ] @ cells)

                Expect.equal
                    (csvLines "table3.csv")
                    [|
                        ablationRow "Baseline" TableFormat.scratchKey
                        ablationRow "Embeddings from the Multi-task model" TableFormat.pretrainedKey
                    |]
                    "table 3 rows"

                let tex = text "table1.tex"

                let texRow (label: string) (m: ModelResult) =
                    (csvRow label m).Replace(",", " & ") + " \\\\"

                Expect.stringContains tex (texRow "Late Fusion" late) "LaTeX late fusion row"
                Expect.stringContains tex (texRow "TF" tf) "LaTeX TF row"
            }

            test
                "Figures: per-emotion bars and the ablation chart plot each model's own numbers; index.html shows the tables, and a later sweep adds its own" {
                let r = tableResults.Force()
                use dir = new TempDir()
                let pct (x: float) = 100.0 * x
                let bars = traces (Figures.perEmotionBars r)

                for m in r.Models do
                    Expect.equal
                        bars[$"{m.Label} (WA)"]
                        (Array.append (m.PerEmotion |> Array.map (fun e -> pct e.WA.Value)) [| pct m.AverageWA.Value |])
                        $"{m.Label}: WA bars"

                    Expect.equal
                        bars[$"{m.Label} (F1)"]
                        (Array.append (m.PerEmotion |> Array.map (fun e -> pct e.F1.Value)) [| pct m.AverageF1.Value |])
                        $"{m.Label}: F1 bars"

                let chart = traces (Figures.ablationChart r)

                for label, key in
                    [
                        "TF", TableFormat.scratchKey
                        "Embeddings from the Multi-task model", TableFormat.pretrainedKey
                    ] do
                    let own =
                        [|
                            for a in paperAblations -> r.Ablations |> Array.find (fun x -> x.Key = key && x.Modalities = a.Name)
                        |]

                    Expect.equal chart[$"{label} (WA)"] (own |> Array.map (fun a -> pct a.AverageWA.Value)) $"{label}: WA per subset"
                    Expect.equal chart[$"{label} (F1)"] (own |> Array.map (fun a -> pct a.AverageF1.Value)) $"{label}: F1 per subset"

                let written =
                    Figures.write Plots.Inline dir.Path "per-emotion" "Per-emotion" (Figures.perEmotionBars r)

                let html = File.ReadAllText(Path.Combine(dir.Path, written.Html))

                for m in r.Models do
                    Expect.stringContains html $"{m.Label} (WA)" $"{m.Label} in the figure file"

                match written.Png with
                | Some png -> Expect.isGreaterThan (FileInfo(Path.Combine(dir.Path, png)).Length) 1000L "a PNG"
                | None -> ()

                let tables = TableFiles.writeAll dir.Path r
                let index = File.ReadAllText(Figures.index dir.Path r tables [ written ])
                let late = r.Models[0]

                Expect.stringContains
                    index
                    $"<tr><td>Late Fusion</td><td>fixture data</td><td>{num late.PerEmotion[0].WA.Value}</td><td>{num late.PerEmotion[0].F1.Value}</td>"
                    "the late fusion row in the index"

                Expect.stringContains index "per-emotion.html" "a link to the figure"

                // A sweep run later into the same folder adds its table and figure to the page (index.json).
                Protocol.write (Path.Combine(dir.Path, "results.json")) r
                let table4 = Path.Combine(dir.Path, "table4-demo.md")

                File.WriteAllLines(
                    table4,
                    [
                        "# Table 4 (beyond the paper): demo sweep"
                        ""
                        "| point | WA |"
                        "|---|---|"
                        "| a | 61.0 |"
                    ]
                )

                let sweepFigure: Figures.Written =
                    {
                        Title = "Sweep demo"
                        Html = "table4-demo.html"
                        Png = None
                    }

                for _ in 1..2 do
                    match Figures.addToIndex dir.Path [ table4 ] [ sweepFigure ] with
                    | None -> failtest "the main job's page is there"
                    | Some page ->
                        let again = File.ReadAllText page
                        Expect.stringContains again "Table 4 (beyond the paper): demo sweep" "the sweep's table"
                        Expect.stringContains again "<td>61.0</td>" "its rows"
                        Expect.stringContains again "per-emotion.html" "the main job's figure kept"
                        Expect.stringContains again "<td>Late Fusion</td>" "the main job's tables kept"

                        Expect.equal
                            (Text.RegularExpressions.Regex.Matches(again, "href=\"table4-demo.html\"").Count)
                            1
                            "the sweep's figure linked once, also when added twice"

                use other = new TempDir()
                Expect.isNone (Figures.addToIndex other.Path [ table4 ] [ sweepFigure ]) "no page of a main job: nothing"
            }
        ]
