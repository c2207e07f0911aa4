/// Data preparation of the main job: the demo corpora (generated when absent) and their feature stores.
module Research.Experiments.Prepare

open System
open System.Diagnostics
open System.IO
open Research.Model
open Research.Model.Data
open Research.Model.Demo
open Research.Model.Text

/// Where the demo corpus and its features live, and how big it is.
type Settings =
    {
        /// Folder of the generated corpus (and, under features/, its stores).
        Folder: string
        Options: DemoCorpusOptions
        /// Threads for feature extraction.
        Workers: int
    }

/// Paths of a prepared demo corpus.
type Prepared =
    {
        Corpus: DemoCorpusSummary
        PretrainDir: string
        PretrainStore: string
        EmotionStores: Map<string, string>
        FrontEnd: FrontEndOptions
    }

/// The seconds since the clock started, as a fixed-width prefix of progress lines.
let stamp (clock: Stopwatch) =
    $"[{clock.Elapsed.TotalSeconds, 6:F1}s]"

/// Prints feature-cache progress about every 10% and at the end.
let progressOf (what: string) (clock: Stopwatch) =
    let mutable last = -1

    { new IProgress<FeatureCacheProgress> with
        member _.Report p =
            let tenth = p.Done * 10 / max 1 p.Total

            if tenth <> last || p.Done = p.Total then
                last <- tenth

                printfn
                    "%s %s features: %d/%d (computed %d, reused %d, skipped %d)"
                    (stamp clock)
                    what
                    p.Done
                    p.Total
                    p.Computed
                    p.Reused
                    p.Skipped
    }

/// Tells the stage timings whether a store build computed items (work) or found them all (reuse).
let private noteStore (computed: int) =
    if computed > 0 then
        Stages.noteWork ()
    else
        Stages.noteReused ()

/// The front end of the demo corpus: its video is rendered at its frame rate, its visual feature is its grey-level side.
let demoFrontEnd (folder: string) (o: DemoCorpusOptions) =
    FrontEndOptions(
        VideoFps = float o.FramesPerSecond,
        VisualSide = o.FeatureSide,
        WordVectors = Path.Combine(folder, "glove.demo.300d.txt")
    )

/// The MOSEI roots of the demo's emotion corpus.
let demoMoseiOptions =
    MoseiOptions(AudioRoot = DemoCorpus.AudioRoot, VideoRoot = DemoCorpus.VisualRoot, TextRoot = DemoCorpus.WordsRoot)

/// The feature stores of a generated demo corpus (pre-training, emotion folds), computed where missing.
let private buildStores (clock: Stopwatch) folder frontEnd (workers: int) summary =
    let features = Path.Combine(folder, "features")
    let pretrainDir = Path.Combine(folder, "pretrain", "data")
    let pretrainStore = Path.Combine(features, "pretrain")
    let dir = KaldiDataDir.Load pretrainDir

    let result, oov =
        CorpusFeatures.BuildPretraining(dir, pretrainStore, frontEnd, workers, progressOf "pre-training" clock).ToTuple()

    let oovPath = Path.Combine(features, "pretrain-oov.json")
    oov.WriteJson(oovPath, frontEnd.WordVectors)

    noteStore result.Computed

    printfn
        "%s pre-training store: %d computed, %d reused; %d of %d tokens out of vocabulary (%s)"
        (stamp clock)
        result.Computed
        result.Reused
        oov.OovTokens
        oov.TotalTokens
        oovPath

    let emotionRoot = Path.Combine(features, "emotion")
    let emotion = Path.Combine(folder, "emotion")

    let results =
        CorpusFeatures.BuildEmotion(emotion, Path.Combine(emotion, "folds.json"), demoMoseiOptions, emotionRoot, progressOf "emotion" clock)

    for KeyValue(fold, r) in results do
        noteStore r.Computed
        printfn "%s emotion store %s: %d computed, %d reused" (stamp clock) fold r.Computed r.Reused

    {
        Corpus = summary
        PretrainDir = pretrainDir
        PretrainStore = pretrainStore
        EmotionStores = results.Keys |> Seq.map (fun k -> k, Path.Combine(emotionRoot, k)) |> Map.ofSeq
        FrontEnd = frontEnd
    }

/// Generates the demo corpus when absent, then builds (or reuses) its feature stores; prints what it did; records its
/// two stages ("corpus": generation or reuse; "stores": feature extraction) in `stages`.
let runTimed (stages: Stages.Recorder) (s: Settings) : Prepared =
    let clock = Stopwatch.StartNew()
    let folder = Path.GetFullPath s.Folder
    printfn "%s demo corpus: %s" (stamp clock) folder

    let summary, reused =
        stages.Time(
            "corpus",
            fun () ->
                let summary, reused =
                    DemoCorpus.Ensure(folder, s.Options, (fun line -> printfn "%s %s" (stamp clock) line)).ToTuple()

                if reused then Stages.noteReused () else Stages.noteWork ()
                summary, reused
        )

    printfn
        "%s demo corpus %s: pre-training %d speakers, %d utterances (%.1f min of speech); emotion %d speakers, %d videos, %d segments"
        (stamp clock)
        (if reused then "reused" else "generated")
        summary.PretrainSpeakers
        summary.PretrainUtterances
        (summary.PretrainSeconds / 60.0)
        summary.EmotionSpeakers
        summary.EmotionVideos
        summary.EmotionSegments

    printfn "%s   folds by %s (no speaker in two folds); label distribution per fold:" (stamp clock) summary.FoldsBy

    for KeyValue(fold, positives) in summary.PositivesByFold do
        printfn
            "%s   %-5s %3d speakers, %4d segments; positives happy %d, sad %d, anger %d, surprise %d, disgust %d, fear %d"
            (stamp clock)
            fold
            summary.SpeakersByFold[fold].Length
            summary.SegmentsByFold[fold]
            positives[0]
            positives[1]
            positives[2]
            positives[3]
            positives[4]
            positives[5]

    let frontEnd = demoFrontEnd folder s.Options
    stages.Time("stores", fun () -> buildStores clock folder frontEnd s.Workers summary)

/// `runTimed` with its stages recorded nowhere.
let run (s: Settings) : Prepared = runTimed (Stages.Recorder()) s

/// Real corpora named on the command line: a Kaldi-style pre-training directory (wav.scp, text, utt2spk; video.scp
/// for faces) and a folder of CMU-MOSEI .csd files with its folds JSON.
type RealData =
    {
        PretrainDir: string
        Mosei: string
        Folds: string
        /// GloVe text file (300-d) for the pre-training transcripts.
        GloVe: string
        /// Converted VGG-16 weights (tools/convert_vgg16.py) for the pre-training videos; "" = grey levels.
        Vgg16: string
        /// Video frame rate, and the side of the grey-level images used when there are no VGG-16 weights.
        VideoFps: float
        VisualSide: int
        /// The .csd roots of the MOSEI modalities (audio must be the 200-d stacked LFBE the model takes).
        Roots: MoseiOptions
        /// Where the feature stores go.
        Features: string
        /// CMVN of the pre-training store's filter-bank energies.
        Cmvn: Research.Model.Audio.CmvnMode
        /// Utterances held out per speaker by the pre-training run (the training split of global CMVN).
        HeldOutPerSpeaker: int
        /// --skip-bad: where to list the bad input items skipped; None = bad input is an error.
        SkipBad: string option
    }

/// Builds (or reuses) the feature stores of real corpora; returns the pre-training store and the emotion root.
let real (r: RealData) (workers: int) =
    let clock = Stopwatch.StartNew()
    let skips = FeatureStores.skipReport r.SkipBad "reproduce.fsx (real data)"
    let pretrainStore = Path.Combine(r.Features, "pretrain")

    let store: FeatureStores.PretrainingStore =
        {
            Data = r.PretrainDir
            Out = pretrainStore
            GloVe = r.GloVe
            Vgg16 = r.Vgg16
            VideoFps = r.VideoFps
            VisualSide = r.VisualSide
            Cmvn = r.Cmvn
            Stats = ""
            HeldOutPerSpeaker = r.HeldOutPerSpeaker
            Workers = workers
        }

    let result, _ =
        FeatureStores.buildPretraining store skips (progressOf "pre-training" clock)

    noteStore result.Computed
    printfn "%s pre-training store: %d computed, %d reused" (stamp clock) result.Computed result.Reused
    let emotionRoot = Path.Combine(r.Features, "emotion")

    let emotion: FeatureStores.EmotionStores =
        {
            Mosei = r.Mosei
            Folds = r.Folds
            Roots = r.Roots
            Out = emotionRoot
        }

    for KeyValue(fold, res) in FeatureStores.buildEmotion emotion skips (progressOf "emotion" clock) do
        noteStore res.Computed
        printfn "%s emotion store %s: %d computed, %d reused" (stamp clock) fold res.Computed res.Reused

    FeatureStores.saveSkips skips r.SkipBad
    r.PretrainDir, pretrainStore, emotionRoot

/// The input dimensions of a store (audio, video, text columns).
let inputsOf (store: string) : Config.Inputs =
    use s = FeatureStore.Open store

    let columns m =
        if s.Modalities |> Seq.contains m then s.Columns m else 1

    {
        AudioDim = columns "audio"
        VideoDim = columns "video"
        TextDim = columns "text"
    }
