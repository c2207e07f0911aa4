module Research.Model.Tests.Demo.DemoCorpusTests

open System
open System.IO
open System.Security.Cryptography
open Expecto
open Research.Model
open Research.Model.Data
open Research.Model.Demo
open Research.Model.Text
open Research.Model.Video

/// One tiny corpus per test run, generated on first use and removed when the process exits.
let private corpus =
    lazy
        (let folder =
            Path.Combine(Path.GetTempPath(), $"research-demo-tests-{Environment.ProcessId}", "demo")

         AppDomain.CurrentDomain.ProcessExit.Add(fun _ ->
             try
                 Directory.Delete(Path.GetDirectoryName folder, true)
             with _ ->
                 ())

         let summary, reused =
             DemoCorpus.Ensure(folder, DemoCorpusOptions.Tiny, ignore).ToTuple()

         folder, summary, reused)

let private hashOf (path: string) =
    Convert.ToHexString(SHA256.HashData(File.ReadAllBytes path))

let demoOptions =
    MoseiOptions(AudioRoot = DemoCorpus.AudioRoot, VideoRoot = DemoCorpus.VisualRoot, TextRoot = DemoCorpus.WordsRoot)

/// The tiny corpus (folder, manifest) for other test files.
let tinyCorpus () =
    let folder, summary, _ = corpus.Force()
    folder, summary

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Demo.DemoCorpus"
        [
            test "the pre-training corpus is a valid Kaldi data dir with the promised speakers, utterances and media" {
                let folder, summary, reused = corpus.Force()
                Expect.isFalse reused "generated"
                let o = DemoCorpusOptions.Tiny
                let dir = KaldiDataDir.Load(Path.Combine(folder, "pretrain", "data"))
                dir.Validate()
                Expect.equal dir.Utterances.Count (o.PretrainSpeakers * o.UtterancesPerSpeaker) "utterances"
                Expect.equal dir.Speakers.Count o.PretrainSpeakers "speakers"
                Expect.equal summary.PretrainUtterances dir.Utterances.Count "manifest"
                Expect.isTrue dir.HasVideo "video.scp"

                for u in dir.Utterances do
                    CharVocabulary.English.Encode(u.Transcript, u.Id) |> ignore

                let u = dir.Utterances[0]
                let wave = Audio.AudioFile.Load(u.WavPath, 16000)

                let frames =
                    VisualFeatures.FromVideo(u.VideoPath, float o.FramesPerSecond, o.FeatureSide)

                Expect.equal (frames.GetLength 1) (o.FeatureSide * o.FeatureSide) "demo visual feature dimension"
                let expected = wave.Seconds * float o.FramesPerSecond
                Expect.isLessThanOrEqual (abs (float (frames.GetLength 0) - expected)) 1.5 "one frame per 1/fps of speech"
            }

            test "the emotion corpus reads through the MOSEI loader with every modality, in the manifest's folds" {
                let folder, summary, _ = corpus.Force()
                let emotion = Path.Combine(folder, "emotion")

                use mosei =
                    MoseiCorpus.Open(emotion, Path.Combine(emotion, "folds.json"), demoOptions)

                let segments = mosei.Load()
                Expect.equal segments.Count summary.EmotionSegments "segments"

                for s in segments do
                    Expect.isGreaterThan (s.Audio.GetLength 0) 0 "audio rows"
                    Expect.equal (s.Audio.GetLength 1) 200 "stacked LFBE"
                    Expect.isGreaterThan (s.Video.GetLength 0) 0 "video rows"
                    Expect.isGreaterThan (s.Text.GetLength 0) 0 "word rows"
                    Expect.all s.Intensities (fun x -> x >= 0f && x <= 3f) "intensities in [0, 3]"

                for KeyValue(fold, n) in summary.SegmentsByFold do
                    let counted =
                        segments
                        |> Seq.filter (fun s -> s.Fold.ToString().ToLowerInvariant() = fold)
                        |> Seq.length

                    Expect.equal counted n $"{fold} segments"

                // Folds by speaker, as the manifest says: each speaker's segments lie in one fold, each fold has one.
                Expect.equal summary.FoldsBy "speaker" "the manifest states the folds' unit"
                Expect.equal summary.ClusterBy "speaker" "and the cluster the intervals resample"

                let foldsOfSpeaker =
                    segments
                    |> Seq.groupBy (fun s -> summary.SpeakerOfVideo[s.VideoId])
                    |> Seq.map (fun (speaker, segs) -> speaker, segs |> Seq.map _.Fold |> Set.ofSeq)
                    |> List.ofSeq

                for speaker, folds in foldsOfSpeaker do
                    Expect.equal folds.Count 1 $"{speaker} is in one fold only ({folds})"

                Expect.equal foldsOfSpeaker.Length DemoCorpusOptions.Tiny.EmotionSpeakers "every speaker has segments"

                for KeyValue(fold, speakers) in summary.SpeakersByFold do
                    Expect.isNonEmpty speakers $"{fold} has a speaker"

                    for speaker in speakers do
                        let _, folds = foldsOfSpeaker |> List.find (fun (s, _) -> s = speaker)
                        Expect.equal (folds.MinimumElement.ToString().ToLowerInvariant()) fold $"{speaker} in {fold}"
            }

            test "the demo word vectors leave the announced words out of vocabulary" {
                let folder, summary, _ = corpus.Force()
                let vocabulary = Collections.Generic.HashSet(DemoGrammar.Vocabulary())
                let vectors = GloVe.Read(Path.Combine(folder, "glove.demo.300d.txt"), vocabulary)
                Expect.equal vectors.Dimension 300 "300-d"
                Expect.equal vectors.Count (vocabulary.Count - summary.WordsWithoutVectors.Count) "all but the left-out words"

                for w in summary.WordsWithoutVectors do
                    Expect.isFalse (vectors.Contains w) $"{w} has no vector"
            }

            test "the same seed gives the same corpus; an existing corpus is reused; a foreign folder is refused" {
                let folder, _, _ = corpus.Force()
                let other = Path.Combine(Path.GetDirectoryName folder, "again")
                let _, reused = DemoCorpus.Ensure(other, DemoCorpusOptions.Tiny, ignore).ToTuple()
                Expect.isFalse reused "a new folder is generated"

                for rel in
                    [
                        "pretrain/data/text"
                        "pretrain/data/utt2spk"
                        "pretrain/wav/" + "pt0000-00000.wav"
                        "glove.demo.300d.txt"
                        "emotion/folds.json"
                    ] do
                    Expect.equal (hashOf (Path.Combine(other, rel))) (hashOf (Path.Combine(folder, rel))) $"{rel} identical"

                use a = Data.CsdReader.Open(Path.Combine(folder, "emotion", "DEMO_Labels.csd"))
                use b = Data.CsdReader.Open(Path.Combine(other, "emotion", "DEMO_Labels.csd"))

                for id in a.VideoIds do
                    Expect.equal (b.Read(id).Features) (a.Read(id).Features) $"labels of {id}"

                let clock = Diagnostics.Stopwatch.StartNew()
                let _, again = DemoCorpus.Ensure(other, DemoCorpusOptions.Tiny, ignore).ToTuple()
                Expect.isTrue again "reused"
                Expect.isLessThan clock.Elapsed.TotalSeconds 1.0 "reuse is quick"
                let tiny = DemoCorpusOptions.Tiny

                let _, otherWorkers =
                    DemoCorpus.Ensure(other, tiny.With(tiny.Seed, tiny.Workers + 3), ignore).ToTuple()

                Expect.isTrue otherWorkers "reused under another worker count (workers do not change the corpus)"

                let _, otherSeed =
                    DemoCorpus.Ensure(other, tiny.With(tiny.Seed + 1, tiny.Workers), ignore).ToTuple()

                Expect.isFalse otherSeed "another seed is another corpus"
                let foreign = Path.Combine(Path.GetDirectoryName folder, "foreign")
                Directory.CreateDirectory foreign |> ignore
                File.WriteAllText(Path.Combine(foreign, "notes.txt"), "mine")
                Expect.throwsT<IOException> (fun () -> DemoCorpus.Ensure(foreign, DemoCorpusOptions.Tiny, ignore) |> ignore) "not ours"
                Expect.isTrue (File.Exists(Path.Combine(foreign, "notes.txt"))) "left untouched"
            }

            test "VideoEncoder: videos written by one ffmpeg process are byte for byte those written one at a time" {
                use dir = new Research.Model.Tests.ReferenceFiles.TempDir()
                let rng = Random 5
                let size = 32

                let clip (frames: int) =
                    [
                        for _ in 1..frames -> Array.init (size * size) (fun _ -> float32 (rng.NextDouble()))
                    ]
                    :> Collections.Generic.IReadOnlyList<float32[]>

                let clips = [ clip 12; clip 7; clip 20 ]

                for k, frames in List.indexed clips do
                    VideoEncoder.WriteGrayMp4(dir.File $"alone{k}.mp4", frames, size, 10)

                VideoEncoder.WriteGrayMp4Many(
                    [|
                        for k, frames in List.indexed clips -> struct (dir.File $"together{k}.mp4", frames)
                    |],
                    size,
                    10
                )

                for k, frames in List.indexed clips do
                    Expect.equal (hashOf (dir.File $"together{k}.mp4")) (hashOf (dir.File $"alone{k}.mp4")) $"video {k}: the same bytes"

                    Expect.equal
                        (VideoFrames.Read(dir.File $"together{k}.mp4", 10.0, size, size)).Count
                        frames.Count
                        $"video {k}: its own frames"

                Expect.isEmpty
                    (Directory.GetDirectories(Path.GetTempPath(), $"research-encode-{Environment.ProcessId}-*"))
                    "no temporary folder left"
            }

            test "feature stores: every item once, nothing recomputed on a second build" {
                let folder, summary, _ = corpus.Force()
                let o = DemoCorpusOptions.Tiny

                let frontEnd =
                    FrontEndOptions(
                        VideoFps = float o.FramesPerSecond,
                        VisualSide = o.FeatureSide,
                        WordVectors = Path.Combine(folder, "glove.demo.300d.txt")
                    )

                let dir = KaldiDataDir.Load(Path.Combine(folder, "pretrain", "data"))
                let store = Path.Combine(folder, "features", "pretrain")
                let first, oov = CorpusFeatures.BuildPretraining(dir, store, frontEnd).ToTuple()
                Expect.equal first.Computed dir.Utterances.Count "all computed"
                Expect.isGreaterThan oov.TotalTokens 0L "tokens counted"
                let second, _ = CorpusFeatures.BuildPretraining(dir, store, frontEnd).ToTuple()
                Expect.equal (second.Computed, second.Reused) (0, dir.Utterances.Count) "all reused"
                use s = FeatureStore.Open store
                let item = s.Read 0
                Expect.equal (item[CorpusFeatures.Audio].GetLength 1) 200 "audio 200-d"
                Expect.equal (item[CorpusFeatures.Video].GetLength 1) 1024 "video 1024-d"
                Expect.equal (item[CorpusFeatures.Text].GetLength 1) 300 "text 300-d"
                // The store decodes a chunk's videos in one ffmpeg process: the same features as one video at a time
                // (stored as float16).
                let extractor = CorpusFeatures.Extractor frontEnd

                for i, u in Seq.indexed dir.Utterances do
                    let alone = CorpusFeatures.VideoFeaturesOf(u.VideoPath, frontEnd, extractor, u.Id)
                    let stored = (s.Read i)[CorpusFeatures.Video]
                    Expect.equal (stored.GetLength 0, stored.GetLength 1) (alone.GetLength 0, alone.GetLength 1) $"{u.Id}: shape"

                    for f in 0 .. alone.GetLength 0 - 1 do
                        for d in 0 .. alone.GetLength 1 - 1 do
                            if stored[f, d] <> float32 (Half.op_Explicit alone[f, d]) then
                                failtest $"{u.Id}: frame {f}, column {d}: stored {stored[f, d]}, decoded alone {alone[f, d]}"

                let emotion = Path.Combine(folder, "emotion")
                let stores = Path.Combine(folder, "features", "emotion")

                let results =
                    CorpusFeatures.BuildEmotion(emotion, Path.Combine(emotion, "folds.json"), demoOptions, stores)

                for KeyValue(fold, r) in results do
                    Expect.equal r.Computed summary.SegmentsByFold[fold] $"{fold} computed"

                let again =
                    CorpusFeatures.BuildEmotion(emotion, Path.Combine(emotion, "folds.json"), demoOptions, stores)

                for KeyValue(fold, r) in again do
                    Expect.equal r.Computed 0 $"{fold} recomputes nothing"

                use train = FeatureStore.Open(Path.Combine(stores, "train"))
                let labels = train.Read(0, CorpusFeatures.Labels)
                Expect.equal (labels.GetLength 1) 6 "six intensities"
            }
        ]
