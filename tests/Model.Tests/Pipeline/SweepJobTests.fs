/// The subset sweep end to end on the tiny demo corpus with a tiny model and 2 steps (SweepJob.run, what
/// `scripts/sweep.fsx -- --sweep subsets` runs): the seven subsets of each model, a dash where the paper's encoder
/// cannot run, Table 4 a pure function of sweep-subsets.json, the paper's four ablations cached under their old
/// keys, finished runs reused by a second invocation, and an audio-less subset scored as the model on null audio.
module Research.Model.Tests.Pipeline.SweepJobTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Data
open Research.Model.Demo
open Research.Model.Models
open Research.Model.Training
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Protocol
open Research.Model.Tests.ReferenceFiles
open Research.Model.Tests.DataFixtures

/// Copies the shared tiny corpus (without its feature stores, which the corpus tests own) into `target`.
let private copyCorpus (source: string) (target: string) =
    for dir in Directory.GetDirectories(source, "*", SearchOption.AllDirectories) do
        let relative = Path.GetRelativePath(source, dir)

        if not (relative.StartsWith "features") then
            Directory.CreateDirectory(Path.Combine(target, relative)) |> ignore

    Directory.CreateDirectory target |> ignore

    for file in Directory.GetFiles(source, "*", SearchOption.AllDirectories) do
        let relative = Path.GetRelativePath(source, file)

        if not (relative.StartsWith "features") then
            File.Copy(file, Path.Combine(target, relative))

let private tinySize =
    { demoModel with
        DModel = 16
        Heads = 2
        FeedForward = 16
        AudioLayers = 1
        CrossModalLayers = 1
        DecoderLayers = 1
    }

let private budget (b: Budget) =
    { b with
        Steps = 2
        BatchSize = 2
        Warmup = 1
        EvaluateEvery = 2
        CheckpointEvery = 2
    }

let private job (root: string) : Reproduce.Job =
    let folder, _ = Research.Model.Tests.Demo.DemoCorpusTests.tinyCorpus ()
    let data = Path.Combine(root, "data")

    if not (Directory.Exists data) then
        copyCorpus folder data

    { Reproduce.defaults with
        Data = data
        Corpus = DemoCorpusOptions.Tiny
        Runs = Path.Combine(root, "runs")
        Tables = Path.Combine(root, "tables")
        Plotly = Plots.Shared
        Seeds = 1
        Pretraining =
            { Reproduce.defaults.Pretraining with
                // No CTC head: the cheapest pre-training (the sweep's logic does not depend on it).
                CtcWeight = 0.0
                Model = tinySize
                Budget = budget Reproduce.defaults.Pretraining.Budget
                Threads = Environment.ProcessorCount
            }
        FineTuning =
            { Reproduce.defaults.FineTuning with
                Model = tinySize
                Budget = budget Reproduce.defaults.FineTuning.Budget
                Threads = Environment.ProcessorCount
            }
        Command = "sweep job test"
    }

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Pipeline.SweepJob"
        [
            test "sweep.fsx plans from the main job's configs: the same flags give the same job as reproduce.fsx" {
                let argv =
                    [|
                        "--corpus"
                        "tiny"
                        "--seeds"
                        "2"
                        "--pretrain-steps"
                        "4"
                        "--finetune-steps"
                        "2"
                        "--runs"
                        "r"
                    |]

                let sweepJob =
                    Research.Commands.Reproduce.jobOf
                        "s"
                        (Research.Commands.Cli.parseUsage Research.Commands.Sweep.usage (Array.append [| "--sweep"; "subsets" |] argv))
                        argv

                let mainJob =
                    Research.Commands.Reproduce.jobOf "s" (Research.Commands.Cli.parseUsage Research.Commands.Reproduce.usage argv) argv

                Expect.equal sweepJob.Pretraining mainJob.Pretraining "pre-training config"
                Expect.equal sweepJob.FineTuning mainJob.FineTuning "fine-tuning config"
                Expect.equal (sweepJob.Runs, sweepJob.Seeds) (mainJob.Runs, mainJob.Seeds) "runs folder and seeds"

                let defaults =
                    Research.Commands.Reproduce.jobOf
                        "s"
                        (Research.Commands.Cli.parseUsage Research.Commands.Sweep.usage [| "--sweep"; "subsets" |])
                        [||]

                Expect.equal defaults.Runs Reproduce.defaults.Runs "the default runs folder is the main job's"
                Expect.equal defaults.Tables Reproduce.defaults.Tables "the default tables folder is the main job's"
            }

            test "subsets sweep on the tiny corpus: 7 subsets × 3 models, dashes without audio, Table 4 from its JSON, runs reused" {
                use d = new TempDir()
                let j = job d.Path
                let written = SweepJob.run j "subsets"
                let r = written.Results.Results

                Expect.equal
                    [ for m in r.Models -> m.Key ]
                    [ TableFormat.scratchKey; TableFormat.pretrainedKey; "any-subset" ]
                    "the main job's two TF models (their run names) and the any-subset model"

                let subsetsOf key =
                    [
                        for a in r.Ablations do
                            if a.Key = key then
                                a.Modalities
                    ]

                let withAudio = [ "A"; "A+V"; "A+T"; "A+V+T" ]
                Expect.equal (subsetsOf TableFormat.scratchKey) withAudio "TF: only the subsets with audio"
                Expect.equal (subsetsOf TableFormat.pretrainedKey) withAudio "pre-trained TF: only the subsets with audio"
                Expect.equal (subsetsOf "any-subset") Table4.subsetNames "any-subset: all seven"

                // Table 4 is a pure function of sweep-subsets.json.
                let json = Path.Combine(j.Tables, Table4.resultsFile "subsets")
                let again = Table4.writeAll (Path.Combine(d.Path, "rerendered")) (Table4.read json)

                Expect.equal (written.Tables |> List.map Path.GetFileName) (again |> List.map Path.GetFileName) "the same files"

                for a, b in List.zip written.Tables again do
                    Expect.equal (File.ReadAllText b) (File.ReadAllText a) $"{Path.GetFileName a} re-rendered from the JSON"

                let md = File.ReadAllText(Path.Combine(j.Tables, "table4-subsets.md"))
                Expect.stringContains md "beyond the paper" "labelled beyond the paper"

                Expect.equal
                    [ for x in written.Results.Differences -> x.Modalities ]
                    [ "A"; "A+V"; "A+T"; "A+V+T" ]
                    "any-subset − pre-trained TF on each subset both run on"

                Expect.stringContains
                    md
                    "Any-subset model (pre-trained) − Embeddings from the Multi-task model on A+V+T (paired bootstrap"
                    "the price of any-subset training on the paper's input, in the table's notes"

                let tfRow = md.Split('\n') |> Array.find (fun l -> l.StartsWith "| TF |")

                let cells = tfRow.Trim('|').Split('|') |> Array.map _.Trim()
                // Model, Dataset, then A WA, A F1, V WA, V F1, T WA, T F1, ...
                Expect.stringContains cells[1] "demo corpus" "the dataset on the row"
                Expect.equal cells[4..7] [| "–"; "–"; "–"; "–" |] "TF: V and T are dashes"
                Expect.notEqual cells[2] "–" "TF: A is a number"
                Expect.isTrue (File.Exists(Path.Combine(j.Tables, written.Figure.Html))) "the figure"

                // The paper's four subsets keep their cache keys (no "audio" entry); a subset without audio says so.
                let keyOf (run: string) (subset: string) =
                    JsonNode.Parse(File.ReadAllText(Path.Combine(j.Runs, "ablations", run, subset, ablationKeyFile)))

                let tfKey = keyOf "tf-seed1" "AVT"
                Expect.isFalse (tfKey.AsObject().ContainsKey "audio") "A+V+T: the key of Table 3's ablations"
                let vtKey = keyOf "any-subset-seed1" "VT"
                Expect.equal (vtKey["audio"].GetValue<bool>()) false "V+T: audio false in the key"

                // An audio-less subset is the model on null audio: the V+T dev predictions, recomputed directly.
                let run = Path.Combine(j.Runs, "any-subset-seed1")

                let c =
                    ofJson<FineTuning> run (File.ReadAllText(Path.Combine(run, RunFolder.ConfigFile)))

                let config = modelConfig c.Model c.Inputs c.Modalities TaskWeights.EmotionOnly 1
                Expect.isTrue config.AnySubset "the any-subset model"
                use model = new MultiTaskModel(config)
                model.load (Path.Combine(run, "best.bin")) |> ignore
                use store = FeatureStore.Open(Path.Combine(c.Stores, "valid"))
                let data = EmotionData store

                let logits (x: EncoderInput) =
                    model.EmotionLogits(EncoderInput(null, x.Video, x.Text))

                let direct = FineTune.predict "valid" model logits data (torch.CPU) 2

                let cached =
                    snd (Evaluate.readSplit (Path.Combine(j.Runs, "ablations", "any-subset-seed1", "VT", "dev.csv")))

                let diff =
                    Array.map2 (Array.map2 (fun (x: float) y -> abs (x - y))) direct.Scores cached.Scores
                    |> Array.concat
                    |> Array.max

                Expect.isLessThan diff 1e-5 "V+T ablation = the model with audio null"

                // A second invocation reuses every finished run and cached prediction: nothing is written to them.
                let stamps () =
                    [
                        for f in Directory.GetFiles(j.Runs, "*.bin", SearchOption.AllDirectories) -> f, File.GetLastWriteTimeUtc f
                    ]
                    @ [
                        for f in Directory.GetFiles(Path.Combine(j.Runs, "ablations"), "*.csv", SearchOption.AllDirectories) ->
                            f, File.GetLastWriteTimeUtc f
                    ]

                let before = stamps ()
                let second = SweepJob.run j "subsets"
                Expect.equal (stamps ()) before "no run or prediction rewritten"
                Expect.equal (second.Results.Results.Models |> Array.map _.AverageWA) (r.Models |> Array.map _.AverageWA) "same numbers"

                // The paper's encoder cannot be scored without audio: ablate says so instead of scoring.
                let tf = Path.Combine(j.Runs, "tf-seed1")
                let v = allSubsets |> List.find (fun a -> a.Name = "V")

                let settings: Settings =
                    {
                        Seeds = [ 1 ]
                        Bootstrap = r.Bootstrap
                        Dataset = "x"
                        ClusterOf = id
                        Fresh = false
                        AblationThresholds = Retuned
                    }

                let message =
                    messageOf<Errors.InvalidSetting>(fun () -> ablate settings tf (Path.Combine(d.Path, "v")) v ("tf", "TF") |> ignore)

                contains message [ "ablation V"; "tf-seed1"; "without audio" ]
                Expect.isFalse (Directory.Exists(Path.Combine(d.Path, "v"))) "nothing written"
            }
        ]
