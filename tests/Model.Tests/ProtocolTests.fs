module Research.Model.Tests.ProtocolTests

open System
open System.IO
open Expecto
open Research.Model.Demo
open Research.Model.Modules
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Protocol

let private report (wa: float) (f1: float) : Metrics.Report =
    {
        Split = "dev"
        PerEmotion = [||]
        AverageWA = wa
        AverageF1 = f1
    }

let private copyDirectory (source: string) (target: string) =
    Directory.CreateDirectory target |> ignore

    for file in Directory.GetFiles source do
        File.Copy(file, Path.Combine(target, Path.GetFileName file))

/// Emotion stores of the tiny demo corpus, built once per test process outside the shared corpus folder (the
/// corpus tests check that its own stores are computed exactly once).
let stores =
    lazy
        (let folder, _ = Demo.DemoCorpusTests.tinyCorpus ()

         let root =
             Path.Combine(Path.GetTempPath(), $"protocol-stores-{Environment.ProcessId}")

         AppDomain.CurrentDomain.ProcessExit.Add(fun _ ->
             try
                 Directory.Delete(root, true)
             with _ ->
                 ())

         let emotion = Path.Combine(folder, "emotion")

         Research.Model.Data.CorpusFeatures.BuildEmotion(emotion, Path.Combine(emotion, "folds.json"), Prepare.demoMoseiOptions, root)
         |> ignore

         root)

let tinyRun (root: string) (name: string) (emotionStores: string) =
    let c =
        { scratch demoFineTuning with
            Name = name
            Stores = emotionStores
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
                    Steps = 12
                    BatchSize = 2
                    Warmup = 4
                    LrFactor = 2.0
                    EvaluateEvery = 3
                    CheckpointEvery = 6
                }
            Seed = 4
            Threads = Environment.ProcessorCount
        }

    FineTune.run root Runs.plain c

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Protocol"
        [
            test "the bootstrap's clusters come from the data: MOSEI videos from segment ids, demo speakers from the manifest" {
                Expect.equal (Research.Model.Data.CorpusFeatures.VideoOfSegment "-3g5yACwYnA[12]") "-3g5yACwYnA" "video of a segment"
                Expect.equal (Research.Model.Data.CorpusFeatures.VideoOfSegment "a[b][3]") "a[b]" "the last bracket"

                for bad in [ "plain"; "v[x]"; "[3]"; "v[3" ] do
                    Expect.throwsC (fun () -> Research.Model.Data.CorpusFeatures.VideoOfSegment bad |> ignore) (fun e ->
                        Expect.stringContains e.Message $"'{bad}'" "names the id")

                let unit, clusterOf = Reproduce.clustering Reproduce.ClusterUnit None
                Expect.equal (unit, clusterOf "vid_1[4]") ("video", "vid_1") "real data: the video"
                let unit, clusterOf = Reproduce.clustering "segment" None
                Expect.equal (unit, clusterOf "vid_1[4]") ("segment", "vid_1[4]") "segments: the item itself"
                // The demo's speaker is what the manifest says, not a prefix of the id.
                let manifest =
                    DemoCorpusSummary(
                        "research-demo-corpus/3",
                        DemoCorpusOptions.Tiny,
                        0,
                        0,
                        0.0,
                        2,
                        2,
                        4,
                        readOnlyDict [],
                        readOnlyDict [],
                        [],
                        "speaker",
                        "speaker",
                        readOnlyDict [],
                        readOnlyDict [ "em0001_v0", "alice"; "em0002_v0", "bob" ]
                    )

                let unit, clusterOf = Reproduce.clustering Reproduce.ClusterUnit (Some manifest)
                Expect.equal unit "speaker" "demo: the speaker"
                Expect.equal (clusterOf "em0001_v0[1]", clusterOf "em0002_v0[0]") ("alice", "bob") "from SpeakerOfVideo"

                Expect.throwsC (fun () -> clusterOf "em0003_v0[0]" |> ignore) (fun e ->
                    Expect.stringContains e.Message "'em0003_v0'" "names the video")

                Expect.throwsC (fun () -> Reproduce.clustering "room" None |> ignore) (fun e ->
                    Expect.stringContains e.Message "'room'" "names the unit")
            }

            test "the chosen seed is the best by dev (WA + F1) / 2; ties go to the smaller seed" {
                Expect.equal (choose [ 3, report 0.6 0.7; 1, report 0.7 0.5; 2, report 0.5 0.9 ]) 2 "best mean"
                Expect.equal (choose [ 5, report 0.6 0.6; 4, report 0.7 0.5 ]) 4 "tie → smaller seed"
                Expect.throwsT<ArgumentException> (fun () -> choose [] |> ignore) "no runs"
            }

            test "test labels never change thresholds, the chosen step or dev predictions" {
                // Two runs that differ only in their test split: the second's test split is the training split
                // (other items, other labels). Everything chosen on dev must come out the same.
                let root =
                    Path.Combine(Path.GetTempPath(), $"protocol-tests-{Environment.ProcessId}")

                try
                    let original = stores.Force()
                    let swapped = Path.Combine(root, "stores-swapped")
                    copyDirectory (Path.Combine(original, "train")) (Path.Combine(swapped, "train"))
                    copyDirectory (Path.Combine(original, "valid")) (Path.Combine(swapped, "valid"))
                    copyDirectory (Path.Combine(original, "train")) (Path.Combine(swapped, "test"))
                    let a = tinyRun root "a" original
                    let b = tinyRun root "b" swapped

                    let bestStep (run: string) =
                        Research.Model.Training.RunFolder.ReadMetrics(run).GetProperty("best_step").GetInt64()

                    Expect.equal (bestStep b.Run) (bestStep a.Run) "same chosen step"

                    Expect.equal
                        (File.ReadAllText(Path.Combine(b.Run, "dev.csv")))
                        (File.ReadAllText(Path.Combine(a.Run, "dev.csv")))
                        "identical dev predictions"

                    Expect.notEqual
                        (File.ReadAllText(Path.Combine(b.Run, "test.csv")))
                        (File.ReadAllText(Path.Combine(a.Run, "test.csv")))
                        "the test splits did differ"

                    let thresholds (r: FineTune.Result) =
                        r.Test.PerEmotion |> Array.map (fun e -> e.WAThreshold, e.F1Threshold)

                    Expect.equal (thresholds b) (thresholds a) "same thresholds applied to test"
                finally
                    if Directory.Exists root then
                        Directory.Delete(root, true)
            }
        ]
