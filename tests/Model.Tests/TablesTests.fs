module Research.Model.Tests.TablesTests

open System
open Expecto
open Research.Experiments
open Research.Experiments.Protocol

let private est v lo hi : Estimate = { Value = v; Low = lo; High = hi }

let private fixtureCommand = "dotnet fsi scripts/reproduce.fsx -- --seeds 2"

/// A model result whose six emotions have WA = base + 0.01·e and F1 = base + 0.1 + 0.01·e (fractions); its runs were
/// made at `commit`.
let private modelResultAt commit key label (b: float) : ModelResult =
    let per =
        Metrics.emotions
        |> Array.mapi (fun e name ->
            {
                Emotion = name
                WA = est (b + 0.01 * float e) 0.0 1.0
                F1 = est (b + 0.1 + 0.01 * float e) 0.0 1.0
            })

    {
        Key = key
        Label = label
        Dataset = "fixture data"
        Seeds =
            [|
                {
                    Seed = 1
                    Run = $"runs/{key}-seed1"
                    Dataset = "fixture data"
                    Commit = commit
                    Command = fixtureCommand
                    DevSelection = 0.5
                    TestWA = 0.60
                    TestF1 = 0.70
                }
                {
                    Seed = 2
                    Run = $"runs/{key}-seed2"
                    Dataset = "fixture data"
                    Commit = commit
                    Command = fixtureCommand
                    DevSelection = 0.6
                    TestWA = 0.64
                    TestF1 = 0.74
                }
            |]
        Chosen = 2
        TestClusters = 678
        PerEmotion = per
        AverageWA = est (b + 0.025) (b - 0.02) (b + 0.07)
        AverageF1 = est (b + 0.125) (b + 0.08) (b + 0.17)
    }

let private modelResult = modelResultAt "abc123"

let private ablation key label modalities (wa: float) (f1: float) : AblationResult =
    {
        Key = key
        Label = label
        Run = $"runs/{key}-seed2"
        Dataset = "fixture data"
        Commit = "abc123"
        Command = fixtureCommand
        Modalities = modalities
        Thresholds = "retuned"
        AverageWA = est wa 0.0 1.0
        AverageF1 = est f1 0.0 1.0
        PerEmotion = [||]
    }

let fixture: Results =
    {
        Dataset = "fixture data"
        Command = fixtureCommand
        Commit = "abc123"
        Created = "2026-11-24 10:00 +00:00"
        Machine = "fixture machine, 2 cores"
        Seeds = 2
        Bootstrap =
            {
                Resamples = 1000
                Seed = 5
                Level = 0.95
                Unit = "video"
            }
        BootstrapClusters = 678
        AblationThresholds = "retuned"
        Models =
            [|
                modelResult TableFormat.lateFusionKey "Late Fusion" 0.50
                modelResult TableFormat.scratchKey "TF" 0.55
                modelResult TableFormat.pretrainedKey "Embeddings from the Multi-task model" 0.6
            |]
        Ablations =
            [|
                for key, label, shift in
                    [
                        TableFormat.scratchKey, "TF", 0.0
                        TableFormat.pretrainedKey, "Embeddings from the Multi-task model", 0.01
                    ] do
                    for i, m in List.indexed [ "A"; "A+V"; "A+T"; "A+V+T" ] ->
                        ablation key label m (0.5 + 0.05 * float i + shift) (0.7 + 0.02 * float i + shift)
            |]
        Pretraining = Collections.Generic.Dictionary(dict [ "cer", 0.5 ])
        PretrainingRun = "runs/pretrain"
    }

let private lines (text: string) = text.Split('\n') |> List.ofArray

[<Tests>]
let tests =
    testList
        "Tables"
        [
            test "Table 1: the paper's rows, then ours, in the paper's layout with percentages to one decimal" {
                let md = TableFormat.markdown fixture (Table1.build fixture)

                let expected =
                    [
                        "| Model | Dataset | Happy WA | Happy F1 | Sad WA | Sad F1 | Anger WA | Anger F1 | Surprise WA | Surprise F1 | Disgust WA | Disgust F1 | Fear WA | Fear F1 | Average WA | Average F1 |"
                        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                        "| M-ELMo + NN [10] (A+T) | CMU-MOSEI (paper) | 67.0 | 65.2 | 63.1 | 72.0 | 65.8 | 74.7 | 63.8 | 83.3 | 74.2 | 81.7 | 63.2 | 85.1 | 66.2 | 77.0 |"
                        "| Graph-MFN [21] | CMU-MOSEI (paper) | 66.3 | 66.3 | 60.4 | 66.9 | 62.6 | 72.8 | 53.7 | 85.5 | 69.1 | 76.6 | 62.0 | 89.9 | 62.3 | 76.3 |"
                        "| CIM-Att-STL [15] | CMU-MOSEI (paper) | 53.6 | 67.0 | 61.4 | 72.4 | 66.8 | 75.9 | 60.6 | 86.0 | 72.7 | 81.9 | 62.2 | 87.9 | 62.8 | 78.6 |"
                        "| Late Fusion | CMU-MOSEI (paper) | 66.2 | 66.3 | 63.7 | 71.8 | 66.2 | 73.6 | 62.2 | 87.8 | 74.1 | 83.3 | 62.3 | 86.6 | 65.8 | 78.2 |"
                        "| TF | CMU-MOSEI (paper) | 67.8 | 67.5 | 63.9 | 72.9 | 66.8 | 74.5 | 60.6 | 88.0 | 74.8 | 82.3 | 64.4 | 86.1 | 66.4 | 78.5 |"
                        "| Late Fusion | fixture data | 50.0 | 60.0 | 51.0 | 61.0 | 52.0 | 62.0 | 53.0 | 63.0 | 54.0 | 64.0 | 55.0 | 65.0 | 52.5 | 62.5 |"
                        "| TF | fixture data | 55.0 | 65.0 | 56.0 | 66.0 | 57.0 | 67.0 | 58.0 | 68.0 | 59.0 | 69.0 | 60.0 | 70.0 | 57.5 | 67.5 |"
                        ""
                        "Our rows' averages with 95 % bootstrap intervals (chosen seed; resampling videos) and the spread across seeds (mean ± sd):"
                        ""
                        "| Model | Dataset | Average WA | 95 % CI | Average F1 | 95 % CI | seeds | WA across seeds | F1 across seeds |"
                        "|---|---|---:|---|---:|---|---:|---|---|"
                        "| Late Fusion | fixture data | 52.5 | [48.0, 57.0] | 62.5 | [58.0, 67.0] | 2 | 62.0 ± 2.8 | 72.0 ± 2.8 |"
                        "| TF | fixture data | 57.5 | [53.0, 62.0] | 67.5 | [63.0, 72.0] | 2 | 62.0 ± 2.8 | 72.0 ± 2.8 |"
                        ""
                    ]

                let got = lines md
                Expect.equal (got |> List.skipWhile (fun l -> not (l.StartsWith "| Model"))) expected "table body"
                Expect.stringStarts md "# Table 1: Baseline results" "title"

                Expect.isTrue
                    (md.Contains "Our rows come from runs made by `dotnet fsi scripts/reproduce.fsx -- --seeds 2` at commit abc123.")
                    "names the command and the commit of the runs"

                Expect.isFalse (md.Contains "different commits") "one commit: no note on commits"
            }

            test "Table 2 compares the TF baseline with the pre-trained model" {
                let rows =
                    lines (TableFormat.markdown fixture (Table2.build fixture))
                    |> List.filter (fun l -> l.StartsWith "| " && l.Contains "fixture data")

                Expect.equal
                    (rows |> List.take 2)
                    [
                        "| Baseline | fixture data | 55.0 | 65.0 | 56.0 | 66.0 | 57.0 | 67.0 | 58.0 | 68.0 | 59.0 | 69.0 | 60.0 | 70.0 | 57.5 | 67.5 |"
                        "| Embeddings from the Multi-task model | fixture data | 60.0 | 70.0 | 61.0 | 71.0 | 62.0 | 72.0 | 63.0 | 73.0 | 64.0 | 74.0 | 65.0 | 75.0 | 62.5 | 72.5 |"
                    ]
                    "our two rows"
            }

            test "Table 3: averages per modality subset, paper rows first" {
                let md = TableFormat.markdown fixture (Table3.build fixture)

                let expected =
                    [
                        "| Model | Dataset | A WA | A F1 | A+V WA | A+V F1 | A+T WA | A+T F1 | A+V+T WA | A+V+T F1 |"
                        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
                        "| Baseline | CMU-MOSEI (paper) | 57.2 | 74.4 | 60.3 | 76.3 | 65.8 | 77.8 | 66.5 | 78.5 |"
                        "| Embeddings from the Multi-task model | CMU-MOSEI (paper) | 57.6 | 75.1 | 60.9 | 76.4 | 66.2 | 78.4 | 67.1 | 78.8 |"
                        "| Baseline | fixture data | 50.0 | 70.0 | 55.0 | 72.0 | 60.0 | 74.0 | 65.0 | 76.0 |"
                        "| Embeddings from the Multi-task model | fixture data | 51.0 | 71.0 | 56.0 | 73.0 | 61.0 | 75.0 | 66.0 | 77.0 |"
                        ""
                    ]

                Expect.equal (lines md |> List.skipWhile (fun l -> not (l.StartsWith "| Model"))) expected "table body"
            }

            test "a missing ablation shows as a dash, and CSV and LaTeX carry the same numbers" {
                let partial =
                    { fixture with
                        Ablations = fixture.Ablations |> Array.filter (fun a -> a.Modalities <> "A+V")
                    }

                let md = TableFormat.markdown partial (Table3.build partial)
                Expect.isTrue (md.Contains "| Baseline | fixture data | 50.0 | 70.0 | – | – | 60.0 | 74.0 |") "dash"
                let csv = TableFormat.csv fixture (Table1.build fixture)
                Expect.isTrue (csv.Contains "\nTF,fixture data,55.0,65.0,56.0,66.0,") "csv row"
                Expect.isTrue (csv.StartsWith "# Our rows come from runs made by") "provenance comment"
                let tex = TableFormat.latex fixture (Table1.build fixture)
                Expect.isTrue (tex.Contains "TF & fixture data & 55.0 & 65.0 & 56.0") "latex row"
                Expect.isTrue (tex.Contains "M-ELMo + NN [10] (A+T) & CMU-MOSEI (paper) & 67.0") "latex reference row"
            }

            test "every table's note gives the bootstrap's unit, clusters, resamples, seed and level" {
                let note =
                    "test intervals: 95 % percentile bootstrap over whole test videos (678 videos, all of a video's segments drawn together); unit video, 1000 resamples, seed 5, level 0.95."

                for build in [ Table1.build; Table2.build; Table3.build ] do
                    let t = build fixture

                    for text in
                        [
                            TableFormat.markdown fixture t
                            TableFormat.csv fixture t
                            TableFormat.latex fixture t
                        ] do
                        Expect.stringContains text note $"{t.Name}: the bootstrap in the note"

                let segments =
                    { fixture with
                        Bootstrap =
                            { fixture.Bootstrap with
                                Unit = "segment"
                                Resamples = 200
                                Level = 0.9
                            }
                        BootstrapClusters = 4000
                    }

                let md = TableFormat.markdown segments (Table1.build segments)

                Expect.stringContains
                    md
                    "test intervals: 90 % percentile bootstrap over test segments, each on its own (4000 segments); unit segment, 200 resamples, seed 5, level 0.9."
                    "segment resampling says so"

                Expect.stringContains md "| Average WA | 90 % CI |" "the level in the interval column"

                let one = { fixture with BootstrapClusters = 1 }

                Expect.stringContains
                    (TableFormat.markdown one (Table1.build one))
                    "(1 video, all of a video's segments drawn together); unit video, 1000 resamples, seed 5, level 0.95. With one video every resample is the test split itself: the intervals have width 0"
                    "one cluster: the note says the interval is empty of meaning"
            }

            test "results survive a JSON round trip" {
                let path = IO.Path.GetTempFileName()

                try
                    write path fixture
                    let back = read path

                    Expect.equal
                        (TableFormat.markdown back (Table1.build back))
                        (TableFormat.markdown fixture (Table1.build fixture))
                        "same table"

                    Expect.equal back.Models.[2].PerEmotion.[5].F1.Value fixture.Models.[2].PerEmotion.[5].F1.Value "value"
                    Expect.equal back.Bootstrap fixture.Bootstrap "the bootstrap's parameters"
                    // results.json names them for other readers too.
                    let json = Text.Json.Nodes.JsonNode.Parse(IO.File.ReadAllText path)
                    let b = json["bootstrap"]
                    Expect.equal (b["unit"].GetValue<string>()) "video" "unit"
                    Expect.equal (b["resamples"].GetValue<int>()) 1000 "resamples"
                    Expect.equal (b["seed"].GetValue<int>()) 5 "seed"
                    Expect.equal (b["level"].GetValue<float>()) 0.95 "level"
                    Expect.equal (json["bootstrap_clusters"].GetValue<int>()) 678 "clusters"
                finally
                    IO.File.Delete path
            }

            test "a table whose rows come from runs of two commits says so in its note, naming each commit's rows" {
                let mixed =
                    { fixture with
                        Models =
                            [|
                                modelResultAt "abc123" TableFormat.lateFusionKey "Late Fusion" 0.50
                                modelResultAt "def456" TableFormat.scratchKey "TF" 0.55
                                modelResult TableFormat.pretrainedKey "Embeddings from the Multi-task model" 0.6
                            |]
                    }

                let note (t: TableFormat.Table) =
                    TableFormat.provenance mixed t |> String.concat "\n"

                let table1 = note (Table1.build mixed)

                Expect.stringContains
                    table1
                    "Our rows come from runs of different commits: abc123 (Late Fusion); def456 (TF)."
                    "Table 1 names both commits and their rows"

                Expect.stringContains table1 "Their runs were made by `dotnet fsi scripts/reproduce.fsx -- --seeds 2`." "one command"
                Expect.stringContains (TableFormat.markdown mixed (Table1.build mixed)) "different commits" "in the Markdown"

                Expect.stringContains
                    (TableFormat.csv mixed (Table1.build mixed))
                    "# Our rows come from runs of different commits"
                    "in the CSV"

                Expect.stringContains
                    (TableFormat.latex mixed (Table1.build mixed))
                    "% Our rows come from runs of different commits"
                    "in the LaTeX"

                Expect.stringContains
                    (note (Table2.build mixed))
                    "different commits: def456 (Baseline); abc123 (Embeddings from the Multi-task model)"
                    "Table 2 too"

                // Table 3's rows come from the chosen runs (one commit here): no such note.
                Expect.isFalse ((note (Table3.build mixed)).Contains "different commits") "Table 3: one commit"

                let otherData =
                    { mixed with
                        Models =
                            mixed.Models
                            |> Array.map (fun m ->
                                if m.Key = TableFormat.scratchKey then
                                    { m with
                                        Seeds = m.Seeds |> Array.map (fun s -> { s with Dataset = "other data" })
                                    }
                                else
                                    m)
                    }

                Expect.stringContains
                    (TableFormat.provenance otherData (Table1.build otherData) |> String.concat "\n")
                    "different datasets: fixture data (Late Fusion); other data (TF)"
                    "datasets named per row"
            }

            test "Table 3's caption says which thresholds the ablations were scored at" {
                let title (choice: string) =
                    (Table3.build
                        { fixture with
                            AblationThresholds = choice
                        })
                        .Title

                Expect.stringContains (title "retuned") "thresholds re-tuned on each ablation's dev predictions" "retuned"
                Expect.stringContains (title "full") "thresholds of the full model" "full"
                Expect.notEqual (title "retuned") (title "full") "the captions differ"

                Expect.stringStarts
                    (TableFormat.markdown
                        { fixture with
                            AblationThresholds = "full"
                        }
                        (Table3.build
                            { fixture with
                                AblationThresholds = "full"
                            }))
                    "# Table 3: Ablation studies"
                    "the caption is the Markdown title"
            }

            test "Table 4 of a weight sweep: one row per point with its dataset and intervals; a pure function of its JSON" {
                let sweep: Table4.SweepResults =
                    {
                        Sweep = "task-weights"
                        Results = { fixture with Ablations = [||] }
                        Pretrainings =
                            [|
                                {
                                    Key = TableFormat.pretrainedKey
                                    Run = "runs/pretrain"
                                    Metrics = Collections.Generic.Dictionary(dict [ "cer", 0.25; "modality_weight_audio", 0.5 ])
                                }
                            |]
                        Differences = [||]
                    }

                let md = Table4.markdown sweep
                Expect.stringStarts md "# Table 4 (beyond the paper): pre-training task weights" "titled beyond the paper"

                let rows = lines md |> List.filter (fun l -> l.StartsWith "| TF |")
                Expect.equal rows.Length 2 "the TF row in the main table and in the intervals table"
                Expect.stringContains rows[0] "| fixture data |" "the dataset on the row"
                // TF (base 0.55): average WA 57.5 in [53.0, 62.0], F1 67.5 in [63.0, 72.0]
                Expect.stringContains rows[1] "| 57.5 | [53.0, 62.0] | 67.5 | [63.0, 72.0] |" "the averages' intervals"
                Expect.stringContains md "held-out CER 0.250" "the point's pre-training"
                Expect.stringContains md "learned weights at the end audio 0.500" "its learned weights"

                let csv = lines (Table4.csv sweep) |> List.filter (fun l -> not (l.StartsWith "#"))
                Expect.stringEnds csv.Head "average_wa_low,average_wa_high,average_f1_low,average_f1_high,seeds" "interval columns"

                Expect.stringEnds
                    (csv |> List.find (fun l -> l.StartsWith "TF,"))
                    "57.5,67.5,53.0,62.0,63.0,72.0,2"
                    "TF's averages, bounds and seeds"

                let path = IO.Path.Combine(IO.Path.GetTempPath(), $"table4-{Guid.NewGuid():N}.json")

                try
                    Table4.write path sweep
                    let back = Table4.read path
                    Expect.equal (Table4.markdown back) md "Markdown from the JSON"
                    Expect.equal (Table4.csv back) (Table4.csv sweep) "CSV from the JSON"
                    Expect.equal (Table4.latex back) (Table4.latex sweep) "LaTeX from the JSON"
                finally
                    IO.File.Delete path
            }
        ]
