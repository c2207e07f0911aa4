/// Reuse only what matches: a finished emotion run is reused only when its config, seed, dataset label, store
/// fingerprints and code version match the request (else RunConfigMismatchException naming the folder and keys);
/// --fresh trains into a new folder beside it; cached ablation predictions are reused only while the run's best.bin
/// and the options are the ones they were made from.
module Research.Model.Tests.RunReuseTests

open System
open System.IO
open Expecto
open Research.Model.Training
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Protocol

let private copyDirectory (source: string) (target: string) =
    Directory.CreateDirectory target |> ignore

    for file in Directory.GetFiles source do
        File.Copy(file, Path.Combine(target, Path.GetFileName file), true)

/// Every file of a folder (recursively) with its bytes and modification time.
let private snapshot (folder: string) =
    [
        for file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories) |> Array.sort ->
            Path.GetRelativePath(folder, file), File.ReadAllBytes file, File.GetLastWriteTimeUtc file
    ]

/// A tiny from-scratch config (ProtocolTests.tinyRun's sizes; 6 steps of 2).
let private tinyConfig (stores: string) =
    { scratch demoFineTuning with
        Name = "tf-seed4"
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
                Steps = 6
                BatchSize = 2
                Warmup = 4
                LrFactor = 2.0
                EvaluateEvery = 3
                CheckpointEvery = 6
            }
        Seed = 4
        Threads = Environment.ProcessorCount
    }

let private mismatch (f: unit -> unit) =
    try
        f ()
        failtest "no RunConfigMismatchException"
    with :? RunConfigMismatchException as e ->
        e

let private settings thresholds : Settings =
    {
        Seeds = [ 4 ]
        Bootstrap =
            { Metrics.defaultBootstrap with
                Resamples = 50
            }
        Dataset = "fixture data"
        ClusterOf = id
        Fresh = false
        AblationThresholds = thresholds
    }

let private request =
    { Runs.plain with
        Dataset = "fixture data"
    }

let private temp () =
    let root = Path.Combine(Path.GetTempPath(), $"reuse-tests-{Guid.NewGuid():N}")
    Directory.CreateDirectory root |> ignore
    root

/// Two finished tiny runs (seeds 4 and 5) on the protocol's stores, trained once for the ablation tests.
let private trained =
    lazy
        (let root = temp ()

         AppDomain.CurrentDomain.ProcessExit.Add(fun _ ->
             try
                 Directory.Delete(root, true)
             with _ ->
                 ())

         let stores = ProtocolTests.stores.Force()
         let runs = Path.Combine(root, "runs")
         let run = (FineTune.run runs request (tinyConfig stores)).Run

         let other =
             (FineTune.run
                 runs
                 request
                 { tinyConfig stores with
                     Name = "other"
                     Seed = 5
                 })
                 .Run

         root, run, other)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "RunReuse"
        [
            test "a finished run is reused only when config, store fingerprints and dataset match; --fresh trains beside it" {
                let root = temp ()

                try
                    let stores = Path.Combine(root, "stores")

                    for split in [ "train"; "valid"; "test" ] do
                        copyDirectory (Path.Combine(ProtocolTests.stores.Force(), split)) (Path.Combine(stores, split))

                    let runs = Path.Combine(root, "runs")
                    let c = tinyConfig stores
                    let first = FineTune.run runs request c
                    let path = Path.Combine(runs, "tf-seed4")
                    Expect.equal first.Run path "trained into its name"
                    let record = RunFolder.ReadRun path
                    Expect.equal record.Inputs.Dataset "fixture data" "run.json records the dataset label"
                    Expect.equal record.Inputs.CodeVersion RunInputs.CurrentCodeVersion "and the code version"

                    Expect.equal
                        (List.ofSeq record.Inputs.Fingerprints.Keys)
                        [ "stores/test"; "stores/train"; "stores/valid" ]
                        "and the stores' fingerprints"

                    let before = snapshot path

                    // The same request: reused, nothing written.
                    let again = FineTune.run runs request c
                    Expect.equal again.Run path "reused"
                    Expect.equal again.Test.AverageF1 first.Test.AverageF1 "same results"
                    Expect.equal (snapshot path) before "the reused folder is untouched"

                    // A config field: FineTuneSteps (Budget.Steps).
                    let longer =
                        { c with
                            Budget = { c.Budget with Steps = 8 }
                        }

                    let e = mismatch (fun () -> FineTune.run runs request longer |> ignore)
                    Expect.equal (List.ofSeq e.DifferingKeys) [ "Budget.Steps" ] "the differing config field"
                    Expect.stringContains e.Message path "names the run folder"
                    Expect.stringContains e.Message "Budget.Steps (6 → 8)" "old and new value"
                    Expect.stringContains e.Message "--fresh" "tells the user about --fresh"

                    // The dataset label.
                    let e =
                        mismatch (fun () -> FineTune.run runs { request with Dataset = "other data" } c |> ignore)

                    Expect.equal (List.ofSeq e.DifferingKeys) [ "inputs.dataset" ] "the dataset label"
                    Expect.stringContains e.Message "\"fixture data\" → \"other data\"" "both labels"

                    // A store's content: train/ replaced by other items, at the same path (the config is unchanged).
                    let saved = Path.Combine(root, "train-saved")
                    copyDirectory (Path.Combine(stores, "train")) saved
                    Directory.Delete(Path.Combine(stores, "train"), true)
                    copyDirectory (Path.Combine(stores, "valid")) (Path.Combine(stores, "train"))
                    let e = mismatch (fun () -> FineTune.run runs request c |> ignore)
                    Expect.equal (List.ofSeq e.DifferingKeys) [ "inputs.fingerprints.stores/train" ] "the store fingerprint"
                    Directory.Delete(Path.Combine(stores, "train"), true)
                    copyDirectory saved (Path.Combine(stores, "train"))
                    Expect.equal (FineTune.run runs request c).Run path "the restored store matches again"
                    Expect.equal (snapshot path) before "no failed request touched the folder"

                    // --fresh: a new folder beside the old one; the old one stays as it was.
                    let fresh = FineTune.run runs { request with Fresh = true } longer
                    Expect.equal fresh.Run (path + "-2") "a new folder beside it"
                    Expect.isTrue (RunFolder.IsDone fresh.Run) "trained there"
                    Expect.equal (RunFolder.ReadConfig(fresh.Run).GetProperty("Budget").GetProperty("Steps").GetInt32()) 8 "the new config"
                    Expect.equal (snapshot path) before "the old folder is untouched"

                    // A plain request now uses the newest folder: the same config is reused, the old one mismatches.
                    let latest = snapshot fresh.Run
                    Expect.equal (FineTune.run runs request longer).Run fresh.Run "the fresh run is reused"
                    Expect.equal (snapshot fresh.Run) latest "without writing"
                    let e = mismatch (fun () -> FineTune.run runs request c |> ignore)
                    Expect.stringContains e.Message fresh.Run "the newest folder is the one compared"

                    // --fresh again: -3.
                    Expect.equal (RunFolder.Fresh path) (path + "-3") "the next fresh folder"
                finally
                    Directory.Delete(root, true)
            }

            test "the pre-trained weights a fine-tuning run starts from are one of its inputs" {
                let root = temp ()

                try
                    let pretrained = Path.Combine(root, "pretrain")
                    Directory.CreateDirectory pretrained |> ignore
                    File.WriteAllText(Path.Combine(pretrained, RunFolder.DoneFile), "test\n")
                    let weights = Path.Combine(pretrained, Pretrain.weightsFile)
                    File.WriteAllBytes(weights, [| 1uy; 2uy; 3uy |])

                    let c =
                        { tinyConfig (ProtocolTests.stores.Force()) with
                            Pretrained = pretrained
                        }

                    let before = FineTune.inputs request c
                    Expect.equal before.Fingerprints["pretrained"] (RunInputs.FileFingerprint weights) "the weights' hash"
                    let run = Path.Combine(root, "runs", "tf-pretrained-seed4")
                    (RunFolder.Create(run, c, c.Seed, RunInfo.Capture(), before)).Dispose()
                    File.WriteAllBytes(weights, [| 1uy; 2uy; 4uy |])

                    let e =
                        mismatch (fun () -> (Runs.openRun run c c.Seed (FineTune.inputs request c)).Dispose())

                    Expect.equal (List.ofSeq e.DifferingKeys) [ "inputs.fingerprints.pretrained" ] "re-trained weights, same folder"
                    Expect.isFalse ((FineTune.inputs request (scratch c)).Fingerprints.ContainsKey "pretrained") "from scratch: none"
                finally
                    Directory.Delete(root, true)
            }

            test "a recorded command line reads as typed" {
                Expect.equal
                    (Runs.commandText
                        [
                            "/usr/share/dotnet/sdk/10.0.401/FSharp/fsi.dll"
                            "scripts/reproduce.fsx"
                            "--seeds"
                            "1"
                        ])
                    "dotnet fsi scripts/reproduce.fsx -- --seeds 1"
                    "F# Interactive's dropped -- restored"

                Expect.equal
                    (Runs.commandText
                        [
                            "/usr/share/dotnet/sdk/10.0.401/FSharp/fsi.dll"
                            "/tmp/clone/scripts/reproduce.fsx"
                            "--part-baselines"
                            "runs/reproduce-demo/.baselines-timings.json"
                        ])
                    "dotnet fsi scripts/reproduce.fsx"
                    "the second process of a job reads as the job's command"

                Expect.equal
                    (Runs.commandText
                        [
                            "/usr/share/dotnet/sdk/10.0.401/FSharp/fsi.dll"
                            "scripts/reproduce.fsx"
                            "--seeds"
                            "1"
                            "--part-baselines"
                            "t.json"
                        ])
                    "dotnet fsi scripts/reproduce.fsx -- --seeds 1"
                    "its own flags kept"

                Expect.equal
                    (Runs.commandText [ "/x/Model.Tests.dll"; "--filter"; "a b" ])
                    "Model.Tests.dll --filter 'a b'"
                    "a program: its file name, arguments quoted when needed"
            }

            test "ablation predictions are reused while best.bin and the options match, recomputed otherwise" {
                let root, run, other = trained.Force()
                let folder = Path.Combine(root, "ablations-cache", "A")

                do
                    let audioOnly = paperAblations.Head
                    let key = TableFormat.scratchKey, "TF"
                    let first = ablate (settings Retuned) run folder audioOnly key
                    let keyFile = Path.Combine(folder, ablationKeyFile)
                    Expect.isTrue (File.Exists keyFile) "the cache key is written"

                    Expect.stringContains
                        (File.ReadAllText keyFile)
                        (RunInputs.FileFingerprint(Path.Combine(run, "best.bin")))
                        "with best.bin's hash"

                    // Mark the cached test predictions: a reuse keeps the mark, a recomputation removes it.
                    let test = Path.Combine(folder, "test.csv")
                    let computed = File.ReadAllText test
                    let marked = computed.Replace(",0.", ",0.0")
                    Expect.notEqual marked computed "the mark changes the file"
                    File.WriteAllText(test, marked)
                    ablate (settings Retuned) run folder audioOnly key |> ignore
                    Expect.equal (File.ReadAllText test) marked "same best.bin and options: reused"

                    // Another threshold choice is another cache key.
                    let full = ablate (settings Full) run folder audioOnly key
                    Expect.equal (File.ReadAllText test) computed "another threshold option: recomputed"
                    Expect.equal full.Thresholds "full" "recorded"
                    File.WriteAllText(test, marked)

                    // best.bin changes (another run's weights): recomputed, and the key follows.
                    let best = Path.Combine(run, "best.bin")
                    let original = File.ReadAllBytes best
                    File.Copy(Path.Combine(other, "best.bin"), best, true)
                    ablate (settings Full) run folder audioOnly key |> ignore
                    let recomputed = File.ReadAllText test
                    Expect.notEqual recomputed marked "recomputed"
                    Expect.notEqual recomputed computed "from the new weights"
                    Expect.stringContains (File.ReadAllText keyFile) (RunInputs.FileFingerprint best) "the new hash"
                    File.WriteAllBytes(best, original)
                    ablate (settings Retuned) run folder audioOnly key |> ignore
                    Expect.equal (File.ReadAllText test) computed "back to the original weights' predictions"
                    Expect.equal first.Thresholds "retuned" "the default choice recorded"
            }

            test "the ablation's thresholds: re-tuned on its own dev predictions, or the full model's" {
                let root, run, _ = trained.Force()
                let folder = Path.Combine(root, "ablations-thresholds", "A")

                do
                    let audioOnly = paperAblations.Head
                    let split name = snd (Evaluate.readSplit name)

                    let retuned =
                        ablate (settings Retuned) run folder audioOnly (TableFormat.scratchKey, "TF")

                    let full =
                        ablate (settings Full) run folder audioOnly (TableFormat.scratchKey, "TF")

                    let ablatedDev = split (Path.Combine(folder, "dev.csv"))

                    let testWithIds = Evaluate.readSplit (Path.Combine(folder, "test.csv"))

                    let fullThresholds = Metrics.tune (split (Path.Combine(run, "dev.csv")))
                    let ownThresholds = Metrics.tune ablatedDev
                    Expect.notEqual fullThresholds ownThresholds "the fixture's two threshold sets differ"
                    let _, wa, f1, _ = reportAt (settings Full) fullThresholds testWithIds
                    Expect.equal (full.AverageWA, full.AverageF1) (wa, f1) "full: the full model's dev thresholds"
                    let _, wa, f1, _ = reportAt (settings Retuned) ownThresholds testWithIds
                    Expect.equal (retuned.AverageWA, retuned.AverageF1) (wa, f1) "retuned: the ablation's own dev thresholds"
            }
        ]
