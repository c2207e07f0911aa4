/// Feature stores built on their own (scripts/features.fsx pretrain and emotion) and by the main job on real data:
/// the pre-training store of a Kaldi data dir and the fold stores of a CMU-MOSEI folder. Bad input is an error
/// naming the file and item; given a skip report (--skip-bad REPORT.json), it is skipped and listed there instead.
module Research.Experiments.FeatureStores

open System
open System.IO
open Research.Model.Audio
open Research.Model.Data
open Research.Experiments.Errors

/// The CMVN of a flag value: "utterance", "global" or "none".
let cmvnMode (value: string) : CmvnMode =
    match value with
    | "utterance" -> CmvnMode.Utterance
    | "global" -> CmvnMode.Global
    | "none" -> CmvnMode.None
    | other -> invalidSetting $"--cmvn: unknown '{other}' (utterance, global or none)"

/// What the pre-training store is built from, and how.
type PretrainingStore =
    {
        /// The Kaldi data dir: wav.scp, text, utt2spk and video.scp.
        Data: string
        /// The store folder.
        Out: string
        /// GloVe text file for the transcripts.
        GloVe: string
        /// Converted VGG-16 weights for the videos; "" = grey levels of side VisualSide.
        Vgg16: string
        VideoFps: float
        VisualSide: int
        /// CMVN of the filter-bank energies.
        Cmvn: CmvnMode
        /// A cmvn-stats/1 file applied under global CMVN; "" = statistics of the training split, computed.
        Stats: string
        /// Utterances held out per speaker by the trainer: what the training split of global CMVN leaves out.
        HeldOutPerSpeaker: int
        /// Items computed at once.
        Workers: int
    }

/// A skip report for --skip-bad (None when the flag is absent): bad items are then skipped instead of fatal.
let skipReport (path: string option) (command: string) : SkipReport option =
    path |> Option.map (fun _ -> SkipReport command)

/// Writes the report (when --skip-bad asked for one) and prints how many items it lists, per stage, and where.
let saveSkips (report: SkipReport option) (path: string option) =
    match report, path with
    | Some r, Some p ->
        r.Save p
        printfn "%s" (r.Summary(Path.GetFullPath p))
    | _ -> ()

/// Loads a pre-training data dir to build its store: with a skip report, utterances with an empty transcript are
/// dropped and listed; without one, they are an error naming the text file and the utterances.
let loadForBuild (path: string) (skips: SkipReport option) : KaldiDataDir =
    match skips with
    | None -> KaldiDataDir.Load path
    | Some report ->
        let dir = KaldiDataDir.Load(path, KaldiDataDirOptions(SkipEmptyTranscripts = true))
        report.AddKaldi dir
        dir

/// Loads the data dir a store was built from, for training and embedding. An utterance with an empty transcript is
/// in no store (the build failed on it, or skipped it under --skip-bad), so it is left out here as well: the data
/// dir then has the speakers and the training split the store was built with.
let loadForStore (path: string) : KaldiDataDir =
    KaldiDataDir.Load(path, KaldiDataDirOptions(SkipEmptyTranscripts = true))

/// The front end of a pre-training store.
let frontEnd (s: PretrainingStore) : FrontEndOptions =
    if s.Stats <> "" && s.Cmvn <> CmvnMode.Global then
        invalidSetting $"--stats {s.Stats} applies only with --cmvn global (got --cmvn {s.Cmvn.ToString().ToLowerInvariant()})"

    FrontEndOptions(
        WordVectors = s.GloVe,
        Vgg16Weights = (if s.Vgg16 = "" then null else s.Vgg16),
        VideoFps = s.VideoFps,
        VisualSide = s.VisualSide,
        Cmvn = s.Cmvn,
        GlobalCmvn = (if s.Stats = "" then null else CmvnStats.Load s.Stats)
    )

/// Where the out-of-vocabulary report of a pre-training store goes: beside it, `<store>-oov.json`.
let oovPath (store: string) =
    Path.GetFullPath(store).TrimEnd(Path.DirectorySeparatorChar) + "-oov.json"

/// Builds (or updates) the pre-training store, or with `Some (i, n)` only shard i of n of it (a sharded store,
/// FeatureStoreShards: independent processes or MPI ranks build the shards); writes the OOV report beside the store.
let buildPretrainingShard
    (shard: (int * int) option)
    (s: PretrainingStore)
    (skips: SkipReport option)
    (progress: IProgress<FeatureCacheProgress>)
    =
    let o = frontEnd s
    let dir = loadForBuild s.Data skips

    let shard: Nullable<struct (int * int)> =
        match shard with
        | Some(i, n) -> Nullable(struct (i, n))
        | None -> Nullable()

    let result, oov =
        CorpusFeatures.BuildPretraining(dir, s.Out, o, s.Workers, progress, Option.toObj skips, s.HeldOutPerSpeaker, shard).ToTuple()

    oov.WriteJson(oovPath s.Out, o.WordVectors)
    result, oov

/// Builds (or updates) the pre-training store and writes its OOV report; returns the result and the OOV report.
let buildPretraining (s: PretrainingStore) (skips: SkipReport option) (progress: IProgress<FeatureCacheProgress>) =
    buildPretrainingShard None s skips progress

/// What the emotion stores are built from.
type EmotionStores =
    {
        /// The folder of .csd files.
        Mosei: string
        /// The folds file.
        Folds: string
        /// Which .csd root serves which modality (audio must be the 200-d stacked LFBE the model takes).
        Roots: MoseiOptions
        /// The stores' root: train/, valid/, test/ go under it.
        Out: string
    }

/// Builds (or updates) the fold stores; returns each fold's result.
let buildEmotion (s: EmotionStores) (skips: SkipReport option) (progress: IProgress<FeatureCacheProgress>) =
    CorpusFeatures.BuildEmotion(s.Mosei, s.Folds, s.Roots, s.Out, progress, Option.toObj skips)

/// Checks that a store built with global CMVN took its statistics from the run's training split: a store whose
/// cmvn.json held out another number of utterances per speaker would normalise with statistics of held-out items.
let checkCmvnSplit (store: string) (heldOutPerSpeaker: int) =
    let path = Path.Combine(store, TrainingCmvn.FileName)

    if File.Exists path then
        match (CmvnStats.Load path).About.TryGetValue "heldOutPerSpeaker" with
        | true, used when used <> string heldOutPerSpeaker ->
            invalidSetting
                $"HeldOutPerSpeaker is {heldOutPerSpeaker}, but the global CMVN statistics of {store} ({path}) were computed holding out {used} per speaker; rebuild the store with features.fsx pretrain --held-out-per-speaker {heldOutPerSpeaker}"
        | _ -> ()
