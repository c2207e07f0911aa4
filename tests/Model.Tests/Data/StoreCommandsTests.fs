/// The command lines of feature-store building and inspection: features.fsx pretrain / emotion / lfbe --cmvn global,
/// mosei.fsx inspect --skip-bad.
module Research.Model.Tests.Data.StoreCommandsTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Data
open Research.Model.Tests.Audio.References
open Research.Model.Tests.Data.PretrainingFixtures

let private features (argv: string list) =
    Research.Commands.Features.main (Array.ofList argv)

/// `mosei.fsx inspect` on the MOSEI fixture, then `extra`.
let private inspect (extra: string list) =
    Research.Commands.Mosei.main (
        Array.ofList (
            [ "inspect"; "--data"; MoseiFixtures.corpus; "--folds"; MoseiFixtures.folds ]
            @ extra
        )
    )

let private fixtureRoots =
    [
        "--mosei-audio"
        "COVAREP"
        "--mosei-video"
        "FACET 4.2"
        "--mosei-text"
        "glove_vectors"
    ]

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Commands.Stores"
        [
            test "features pretrain: an empty transcript stops it, naming the file and utterance; --skip-bad lists exactly it" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    emptyTranscript data "s2-a"
                    let store = Path.Combine(folder, "features", "pretrain")

                    let args = pretrainArgs data store glove [ "--workers"; "1" ]

                    Expect.throwsC (fun () -> features args |> ignore) (fun e ->
                        Expect.stringContains e.Message (Path.Combine(data, "text")) "the file"
                        Expect.stringContains e.Message "'s2-a'" "the utterance")

                    Expect.isFalse (Directory.Exists store) "no store"
                    let report = Path.Combine(folder, "skipped.json")
                    Expect.equal (features (args @ [ "--cmvn"; "global"; "--skip-bad"; report ])) 0 "exit code"
                    Expect.equal (reportItems report) [ "kaldi text", "s2-a", Path.Combine(data, "text"), "empty transcript" ] "exactly it"
                    use s = FeatureStore.Open store
                    Expect.equal s.Count 5 "the other utterances"
                    let stats = CmvnStats.Load(Path.Combine(store, TrainingCmvn.FileName))
                    Expect.equal stats.About["trainingUtterances"] "3" "s1-a, s1-b, s2-b: the last of each speaker is held out"
                    Expect.isTrue (File.Exists(store + "-oov.json")) "the OOV report beside the store"
                    Research.Experiments.FeatureStores.checkCmvnSplit store 1

                    Expect.throwsC (fun () -> Research.Experiments.FeatureStores.checkCmvnSplit store 2) (fun e ->
                        Expect.stringContains e.Message "holding out 1 per speaker" "pre-training refuses another split")

                    let dir = Research.Experiments.FeatureStores.loadForStore data
                    Expect.equal dir.Utterances.Count 5 "training reads the data dir as the store was built")
            }

            test "features lfbe --cmvn global --stats normalises with a store's statistics; without --stats it is refused" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let store = Path.Combine(folder, "store")

                    features (pretrainArgs data store glove [ "--cmvn"; "global" ]) |> ignore

                    let stats = Path.Combine(store, TrainingCmvn.FileName)
                    let out = Path.Combine(folder, "new.npy")
                    let wav = file "utt2.wav"

                    let code =
                        features [ "lfbe"; "--wav"; wav; "--out"; out; "--cmvn"; "global"; "--stats"; stats ]

                    Expect.equal code 0 "exit code"
                    let raw = CorpusFeatures.FilterBank(wav, FrontEndOptions(), "utt2")
                    Expect.isLessThan (maxAbsDiff (Npy.ReadMatrix out) ((CmvnStats.Load stats).Apply raw)) 1e-6 "the store's statistics"

                    Expect.throwsC (fun () -> features [ "lfbe"; "--wav"; wav; "--out"; out; "--cmvn"; "global" ] |> ignore) (fun e ->
                        Expect.isTrue (e :? Research.Commands.Cli.UsageError) "a usage error (exit 2 with the usage)"
                        Expect.stringContains e.Message "--stats" "says what is missing"))
            }

            test "features emotion: a segment without a modality row stops it; --skip-bad lists each with its .csd file" {
                use tmp = new MoseiFixtures.TempFolder()
                let root = tmp.File "emotion"

                let args =
                    [
                        "emotion"
                        "--mosei"
                        MoseiFixtures.corpus
                        "--folds"
                        MoseiFixtures.folds
                        "--out"
                        root
                    ]
                    @ fixtureRoots

                Expect.throwsC (fun () -> features args |> ignore) (fun e -> Expect.stringContains e.Message "segment" "names the segment")
                let report = tmp.File "skipped.json"
                Expect.equal (features (args @ [ "--skip-bad"; report ])) 0 "exit code"
                let items = reportItems report

                Expect.equal
                    (items |> List.map (fun (_, id, _, _) -> id) |> List.sort)
                    (MoseiFixtures.emptySegmentIds ())
                    "the empty segments"

                for stage, id, file, _ in items do
                    Expect.isTrue (stage.StartsWith "emotion ") $"{id}: the fold's stage"
                    Expect.isTrue (file.EndsWith ".csd") $"{id}: a .csd file"

                for fold in [ "train"; "valid"; "test" ] do
                    Expect.isTrue (Directory.Exists(Path.Combine(root, fold))) $"{fold} store"
            }

            test "mosei inspect --skip-bad counts only usable segments and lists the others" {
                use tmp = new MoseiFixtures.TempFolder()
                let report = tmp.File "bad.json"

                let code = inspect [ "--skip-bad"; report ]

                Expect.equal code 0 "exit code"
                let items = reportItems report

                Expect.equal
                    (items |> List.map (fun (_, id, _, _) -> id) |> List.sort)
                    (MoseiFixtures.emptySegmentIds ())
                    "the unusable segments"

                let all, _ =
                    Research.Experiments.Mosei.inspect MoseiFixtures.corpus MoseiFixtures.folds "All Labels"

                let usable, _ =
                    Research.Experiments.Mosei.inspectUsable
                        MoseiFixtures.corpus
                        MoseiFixtures.folds
                        "All Labels"
                        "COVAREP"
                        "FACET 4.2"
                        "glove_vectors"

                Expect.equal usable.Segments (all.Segments - items.Length) "counted: all but the listed"

                Expect.throwsC (fun () -> inspect [ "--audio"; "X" ] |> ignore) (fun e ->
                    Expect.stringContains e.Message "--skip-bad" "--audio needs --skip-bad")
            }
        ]
