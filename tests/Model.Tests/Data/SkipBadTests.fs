module Research.Model.Tests.Data.SkipBadTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Data
open Research.Model.Tests.Audio.References
open Research.Model.Tests.Data.PretrainingFixtures

[<Tests>]
let tests =
    testList
        "Data.SkipBad"
        [
            test "a Kaldi dir with one empty transcript: an error naming the file and utterance; skipped, the report lists exactly it" {
                withTempDir (fun folder ->
                    let data, _ = writeCorpus folder
                    emptyTranscript data "s2-a"

                    Expect.throwsC (fun () -> KaldiDataDir.Load data |> ignore) (fun e ->
                        Expect.stringContains e.Message (Path.Combine(data, "text")) "the file"
                        Expect.stringContains e.Message "'s2-a'" "the utterance")

                    let dir = KaldiDataDir.Load(data, KaldiDataDirOptions(SkipEmptyTranscripts = true))
                    Expect.equal dir.Utterances.Count 5 "the others are kept"
                    let report = SkipReport "test"
                    report.AddKaldi dir
                    let path = Path.Combine(folder, "reports", "skip.json")
                    report.Save path

                    Expect.equal
                        (reportItems path)
                        [ "kaldi text", "s2-a", Path.Combine(data, "text"), "empty transcript" ]
                        "exactly that utterance"

                    Expect.equal
                        (Directory.GetFiles(Path.GetDirectoryName path) |> Array.map Path.GetFileName)
                        [| "skip.json" |]
                        "no temporary file")
            }

            test
                "a pre-training utterance whose audio fails: an error naming it; skipped, listed with its audio file and left out of the store" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let broken = Path.Combine(folder, "audio", "utt3.wav")
                    File.WriteAllText(broken, "not audio")
                    let dir = KaldiDataDir.Load data
                    let store = Path.Combine(folder, "store")
                    let o = frontEnd glove CmvnMode.Utterance

                    Expect.throwsC (fun () -> CorpusFeatures.BuildPretraining(dir, store, o) |> ignore) (fun e ->
                        Expect.isTrue (e :? FeatureItemException) "FeatureItemException"
                        Expect.stringContains e.Message "'s2-a'" "the utterance"
                        Expect.stringContains e.Message broken "the file")

                    Expect.isFalse (Directory.Exists store) "no store"
                    let report = SkipReport "test"

                    let result, _ =
                        CorpusFeatures.BuildPretraining(dir, store, o, skips = report).ToTuple()

                    Expect.equal [ for s in result.Skipped -> s.Id ] [ "s2-a" ] "the result lists it"

                    Expect.equal
                        [ for b in report.Items -> b.Stage, b.Id, b.File ]
                        [ "pretraining features", "s2-a", broken ]
                        "the report lists it with its audio file"

                    Expect.stringContains report.Items[0].Reason "modality 'audio'" "the reason names the modality"
                    use s = FeatureStore.Open store
                    Expect.equal (List.ofSeq s.Ids) [ "s1-a"; "s1-b"; "s1-c"; "s2-b"; "s2-c" ] "the store lacks it")
            }

            test
                "MOSEI emotion stores: a segment without a modality row is an error; skipped, each such segment is listed with its .csd file" {
                use tmp = new MoseiFixtures.TempFolder()
                let root = tmp.File "emotion"

                Expect.throwsC
                    (fun () ->
                        CorpusFeatures.BuildEmotion(MoseiFixtures.corpus, MoseiFixtures.folds, MoseiOptions(), root)
                        |> ignore)
                    (fun e ->
                        Expect.isTrue (e :? FeatureItemException) "FeatureItemException"
                        let item = (e :?> FeatureItemException).ItemId
                        Expect.stringContains e.Message "glove_vectors" "the root"

                        Expect.stringContains
                            e.Message
                            $"video '{item.Substring(0, item.IndexOf '[')}'"
                            "the reason is the failing item's own"

                        Expect.stringContains e.Message "--skip-bad" "how to skip")

                let report = SkipReport "test"

                let results =
                    CorpusFeatures.BuildEmotion(MoseiFixtures.corpus, MoseiFixtures.folds, MoseiOptions(), root, skips = report)

                let expected = MoseiFixtures.emptySegmentIds ()

                Expect.isNonEmpty expected "the fixture has empty segments"
                Expect.equal (report.Items |> Seq.map _.Id |> List.ofSeq |> List.sort) expected "exactly the empty segments"

                for b in report.Items do
                    Expect.isTrue (b.Stage.StartsWith "emotion ") $"{b.Id}: stage names the fold"
                    Expect.equal (Path.GetDirectoryName b.File) MoseiFixtures.corpus $"{b.Id}: a .csd file of the corpus"
                    Expect.stringContains b.Reason b.File $"{b.Id}: the reason names the file too"

                let stored =
                    [
                        for KeyValue(fold, _) in results do
                            use s = FeatureStore.Open(Path.Combine(root, fold))
                            yield! s.Ids
                    ]

                Expect.isEmpty (Set.intersect (set stored) (set expected)) "no skipped segment in a store"
            }
        ]
