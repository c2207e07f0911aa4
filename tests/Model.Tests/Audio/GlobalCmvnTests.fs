module Research.Model.Tests.Audio.GlobalCmvnTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Data
open Research.Model.Training
open Research.Model.Tests.Audio.References
open Research.Model.Tests.Data.PretrainingFixtures

let private build (data: string) (store: string) (o: FrontEndOptions) =
    let dir = KaldiDataDir.Load data
    let result, _ = CorpusFeatures.BuildPretraining(dir, store, o).ToTuple()
    dir, result

let private audioOf (store: FeatureStore) (id: string) =
    store.Read(Seq.findIndex ((=) id) store.Ids, CorpusFeatures.Audio)

[<Tests>]
let tests =
    testList
        "Audio.GlobalCmvn"
        [
            test
                "a store built with global CMVN: training-split frames have mean 0 and variance 1; held-out items use the training statistics" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let storeDir = Path.Combine(folder, "store")
                    let o = frontEnd glove CmvnMode.Global
                    let dir, result = build data storeDir o
                    Expect.equal result.Computed 6 "all computed"
                    let stats = CmvnStats.Load(Path.Combine(storeDir, TrainingCmvn.FileName))
                    Expect.equal stats.About["split"] "train" "which split"
                    Expect.equal stats.About["heldOutPerSpeaker"] "1" "the trainer's default"
                    Expect.equal stats.About["trainingUtterances"] "4" "utterances in the file's provenance"
                    Expect.equal stats.Utterances 4L "utterances accumulated"
                    Expect.equal stats.Dim 40 "40 mel bins"

                    use store = FeatureStore.Open storeDir
                    let train, heldOut = PretrainingData.Split(store, dir, 1).ToTuple()
                    let idsOf positions = [ for i in positions -> store.Ids[i] ]
                    Expect.equal (idsOf train) [ "s1-a"; "s1-b"; "s2-a"; "s2-b" ] "the trainer's training split"
                    Expect.equal (idsOf heldOut) [ "s1-c"; "s2-c" ] "the trainer's held-out split"

                    let trainAudio = [ for id in idsOf train -> audioOf store id ]
                    Expect.equal (trainAudio |> List.sumBy Array2D.length1 |> int64) stats.Count "the statistics count the training frames"
                    let mean, variance = pooledStats trainAudio

                    for d in 0..39 do
                        Expect.isLessThan (abs mean[d]) 1e-4 $"training column {d}: mean 0"
                        Expect.isLessThan (abs (variance[d] - 1.0)) 1e-3 $"training column {d}: variance 1"

                    for id in idsOf heldOut do
                        let u = dir.Utterances |> Seq.find (fun u -> u.Id = id)
                        let raw = CorpusFeatures.FilterBank(u.WavPath, o, id)
                        let stored = audioOf store id
                        Expect.isLessThan (maxAbsDiff stored (stats.Apply(raw, id))) 1e-5 $"{id}: (x - training mean) / training std"
                        Expect.isGreaterThan (maxAbsDiff stored (Cmvn.PerUtterance(raw, id))) 0.5 $"{id}: not its own statistics"
                        let own, _ = pooledStats [ stored ]
                        Expect.isGreaterThan (Array.max (Array.map abs own)) 0.5 $"{id}: its mean under the training statistics is not 0")
            }

            test "changed training audio changes the statistics and recomputes every item; an unchanged rebuild reuses all" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let storeDir = Path.Combine(folder, "store")
                    let o = frontEnd glove CmvnMode.Global
                    build data storeDir o |> ignore
                    let cmvn = Path.Combine(storeDir, TrainingCmvn.FileName)
                    let before = File.ReadAllText cmvn
                    let _, again = build data storeDir o
                    Expect.equal (again.Rewritten, again.Computed, again.Reused) (false, 0, 6) "unchanged: nothing recomputed"
                    Expect.equal (File.ReadAllText cmvn) before "the same statistics"

                    // A training utterance's audio changes: the statistics change, so every item (held-out too) is recomputed.
                    File.Copy(file "utt2.wav", Path.Combine(folder, "audio", "utt1b.wav"), true)
                    let _, changed = build data storeDir o
                    Expect.equal (changed.Computed, changed.Reused) (6, 0) "all recomputed"
                    Expect.notEqual (File.ReadAllText cmvn) before "new statistics in the store"

                    // Per-utterance CMVN keeps the fingerprints stores had before global CMVN existed.
                    let utterance = frontEnd glove CmvnMode.Utterance
                    Expect.stringContains (utterance.Describe()) "\"UtteranceCmvn\":true" "the old fingerprint text"
                    Expect.isFalse ((utterance.Describe()).Contains "global cmvn") "no statistics in it")
            }

            test "given statistics are applied as they are, and global CMVN without statistics is an error" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let stats = CmvnStats 40
                    stats.Add(Array2D.init 4 40 (fun i j -> float32 (i * j)))

                    let o =
                        FrontEndOptions(WordVectors = glove, VisualSide = 2, Stack = 1, Cmvn = CmvnMode.Global, GlobalCmvn = stats)

                    let storeDir = Path.Combine(folder, "given")
                    build data storeDir o |> ignore

                    Expect.equal
                        (CmvnStats.Load(Path.Combine(storeDir, TrainingCmvn.FileName)).Fingerprint())
                        (stats.Fingerprint())
                        "stored as given"

                    let wav = Path.Combine(folder, "audio", "utt1.wav")

                    Expect.isLessThan
                        (maxAbsDiff (CorpusFeatures.AudioFeatures(wav, o, "x")) (stats.Apply(CorpusFeatures.FilterBank(wav, o, "x"))))
                        1e-6
                        "applied"

                    Expect.throwsC (fun () -> CorpusFeatures.AudioFeatures(wav, frontEnd glove CmvnMode.Global, "x") |> ignore) (fun e ->
                        Expect.stringContains e.Message "GlobalCmvn is not set" "says what is missing"))
            }

            test "an unreadable training utterance is an error naming it and its file before anything is written" {
                withTempDir (fun folder ->
                    let data, glove = writeCorpus folder
                    let broken = Path.Combine(folder, "audio", "utt2.wav")
                    File.WriteAllText(broken, "not audio")
                    let storeDir = Path.Combine(folder, "store")

                    Expect.throwsC (fun () -> build data storeDir (frontEnd glove CmvnMode.Global) |> ignore) (fun e ->
                        Expect.stringContains e.Message "'s1-b'" "the item"
                        Expect.stringContains e.Message broken "the file"
                        Expect.stringContains e.Message "training split" "what was being done")

                    Expect.isFalse (Directory.Exists storeDir) "no store")
            }
        ]
