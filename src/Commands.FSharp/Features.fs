/// `scripts/features.fsx`: audio features of one file (lfbe), and the feature stores of a pre-training data dir
/// (pretrain) and of a CMU-MOSEI folder (emotion), built on their own rather than inside the main job.
module Research.Commands.Features

open System
open System.Diagnostics
open System.Globalization
open System.IO
open Research.Model.Audio
open Research.Model.Data
open Research.Experiments
open Research.Commands.Cli

let private skipBad =
    flag
        "skip-bad"
        "REPORT.json"
        "none: bad input is an error"
        "skip bad input items, count them and list them (id, file, reason) in REPORT.json"

/// What `lfbe` accepts.
let lfbeUsage =
    {
        Script = "scripts/features.fsx"
        Synopsis = "lfbe --wav IN --out OUT.npy [flags]"
        Summary = "lfbe: 40 log mel filter-bank energies every 10 ms (Kaldi's fbank), optionally normalised and stacked, as float32 .npy."
        Flags =
            [
                flag "wav" "IN" "required" "WAV (read in C#) or anything ffmpeg reads; resampled to 16 kHz"
                flag "out" "OUT.npy" "required" "float32 (frames, 40), or (frames / K, 40 K) with --stack K"
                flag "stack" "K" "1" "frames stacked per row (the paper: 5, i.e. 200-d every 50 ms)"
                flag "cmvn" "none|utterance|global" "none" "mean and variance normalisation, before stacking"
                flag "stats" "CMVN.json" "none" "the statistics of --cmvn global (STORE/cmvn.json of a store built with it)"
            ]
        Examples =
            [
                "dotnet fsi scripts/features.fsx lfbe --wav utt1.wav --out utt1.npy"
                "dotnet fsi scripts/features.fsx lfbe --wav talk.m4a --out talk.npy --stack 5 --cmvn utterance"
                "dotnet fsi scripts/features.fsx lfbe --wav new.wav --out new.npy --stack 5 --cmvn global --stats data/vox2-en/features/cmvn.json"
            ]
        Notes = []
    }

/// What `pretrain` accepts.
let pretrainUsage =
    {
        Script = "scripts/features.fsx"
        Synopsis = "pretrain --data KALDI_DIR --out STORE --glove GLOVE.txt [flags]"
        Summary =
            "pretrain: the feature store of a pre-training Kaldi data dir (200-d LFBE, video frame features, GloVe vectors per utterance)."
        Flags =
            [
                flag "data" "KALDI_DIR" "required" "wav.scp, text, utt2spk and video.scp"
                flag "out" "STORE" "required" "the store folder (only changed items are recomputed)"
                flag "glove" "GLOVE.txt" "required" "word vectors for the transcripts"
                flag "vgg16" "WEIGHTS" "none (grey levels)" "converted VGG-16 weights: fc7 features per video frame"
                flag "cmvn" "utterance|global|none" "utterance" "global: statistics of the training split, stored as STORE/cmvn.json"
                flag "stats" "CMVN.json" "none (computed)" "with --cmvn global: apply these statistics instead"
                flag "held-out-per-speaker" "N" "1" "the trainer's HeldOutPerSpeaker: global CMVN uses the other utterances"
                flag "video-fps" "N" "25" "video frames per second sampled"
                flag "visual-side" "N" "64" "side of the grey-level images used without --vgg16"
                flag "workers" "N" "the cores (divided among the ranks under mpirun)" "items computed at once"
                flag
                    "shards"
                    "N"
                    "none: one store"
                    "a sharded store of N shards (STORE/shard-00000-of-0000N/ ...); under mpirun the ranks split the shards"
                flag "shard" "i/N" "none" "build only shard i (0 ≤ i < N) of a sharded store (independent processes, one per shard)"
                skipBad
            ]
        Examples =
            [
                "dotnet fsi scripts/features.fsx pretrain --data data/vox2-en --out data/vox2-en/features --glove glove.840B.300d.txt --cmvn global --skip-bad data/vox2-en/skipped.json"
                "mpirun -np 4 dotnet fsi scripts/features.fsx -- pretrain --data data/vox2-en --out data/vox2-en/features --glove glove.840B.300d.txt --shards 16"
                "dotnet fsi scripts/features.fsx pretrain --data data/vox2-en --out data/vox2-en/features --glove glove.840B.300d.txt --shard 3/16"
            ]
        Notes = [ "Also writes STORE-oov.json (transcript tokens without a vector)." ]
    }

/// What `emotion` accepts.
let emotionUsage =
    {
        Script = "scripts/features.fsx"
        Synopsis = "emotion --mosei CSD_DIR --folds FOLDS.json --out ROOT [flags]"
        Summary =
            "emotion: the train/valid/test feature stores of a CMU-MOSEI folder (audio, video, text rows and 6 intensities per segment)."
        Flags =
            [
                flag "mosei" "CSD_DIR" "required" "a folder of CMU-MultimodalSDK .csd files"
                flag "folds" "FOLDS.json" "required" "the standard folds (train / valid / test video ids)"
                flag "out" "ROOT" "required" "the stores go to ROOT/train, ROOT/valid, ROOT/test"
                flag "mosei-audio" "ROOT" "LFBE" "the .csd root of the audio features (200-d stacked LFBE)"
                flag "mosei-video" "ROOT" "VGG16" "the .csd root of the video features"
                flag "mosei-text" "ROOT" "glove_vectors" "the .csd root of the text features"
                skipBad
            ]
        Examples =
            [
                "dotnet fsi scripts/features.fsx emotion --mosei data/mosei --folds data/mosei/folds.json --out data/real/features/emotion --skip-bad data/real/emotion-skipped.json"
            ]
        Notes = []
    }

/// What `features` accepts: the three subcommands' flags (each subcommand takes only its own).
let usage =
    let subcommands =
        [ "lfbe", lfbeUsage; "pretrain", pretrainUsage; "emotion", emotionUsage ]

    {
        Script = "scripts/features.fsx"
        Synopsis = "lfbe|pretrain|emotion [flags]"
        Summary = "features of one audio file (lfbe), or the feature store of a pre-training data dir (pretrain) or of CMU-MOSEI (emotion)."
        Flags =
            [
                for name, u in subcommands do
                    for f in u.Flags -> { f with Help = $"{name}: {f.Help}" }
            ]
        Examples = subcommands |> List.collect (fun (_, u) -> u.Examples)
        Notes =
            "subcommands (each takes only its own flags):"
            :: [ for _, u in subcommands -> $"  {u.Synopsis}" ]
            @ pretrainUsage.Notes
    }

let private number (f: Flags) (name: string) (fallback: float) =
    match f.TryGet name with
    | None -> fallback
    | Some v ->
        match Double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture) with
        | true, x when x > 0.0 -> x
        | _ -> raise (UsageError $"--{name} expects a positive number, got '{v}'")

let private positive (f: Flags) (name: string) (fallback: int) (least: int) =
    let n = f.Int(name, fallback)

    if n < least then
        raise (UsageError $"--{name} must be at least {least}, got {n}")

    n

/// The command line as typed, for the skip report.
let private commandLine (argv: string array) =
    "features.fsx " + String.Join(" ", argv)

let private lfbe (rest: string array) =
    let f = parseUsage lfbeUsage rest

    let s: Features.LfbeSettings =
        {
            Wav = f.Required "wav"
            Out = f.Required "out"
            Stack = positive f "stack" 1 1
            Cmvn = f.Get("cmvn", "none")
            Stats = f.Get("stats", "")
        }

    if not (List.contains s.Cmvn [ "none"; "utterance"; "global" ]) then
        raise (UsageError $"--cmvn: unknown '{s.Cmvn}' (none, utterance or global)")

    if (s.Cmvn = "global") <> (s.Stats <> "") then
        raise (UsageError "--cmvn global needs --stats CMVN.json (e.g. STORE/cmvn.json), and --stats needs --cmvn global")

    let features = Features.write s
    printfn "wrote %s: float32 (%d, %d)" s.Out (Array2D.length1 features) (Array2D.length2 features)
    0

let private pretrain (argv: string array) (rest: string array) =
    let f = parseUsage pretrainUsage rest
    let skips = FeatureStores.skipReport (f.TryGet "skip-bad") (commandLine argv)

    let s: FeatureStores.PretrainingStore =
        {
            Data = f.Required "data"
            Out = f.Required "out"
            GloVe = f.Required "glove"
            Vgg16 = f.Get("vgg16", "")
            VideoFps = number f "video-fps" 25.0
            VisualSide = positive f "visual-side" 64 1
            Cmvn = FeatureStores.cmvnMode (f.Get("cmvn", "utterance"))
            Stats = f.Get("stats", "")
            HeldOutPerSpeaker = positive f "held-out-per-speaker" 1 0
            Workers = positive f "workers" Environment.ProcessorCount 1
        }

    let comm = Research.Model.Runtime.Communicator.FromEnvironment()

    let shards =
        match f.TryGet "shard", f.TryGet "shards" with
        | Some _, Some _ -> raise (UsageError "--shard i/N builds one shard, --shards N all of them: give one")
        | Some one, None ->
            if comm.Size > 1 then
                raise (UsageError "--shard i/N under mpirun: give --shards N instead, the ranks split the shards")

            let i, n =
                try
                    FeatureStoreShards.Parse(one).ToTuple()
                with :? ArgumentException as e ->
                    raise (UsageError e.Message)

            [ Some(i, n) ]
        | None, Some _ ->
            let n = positive f "shards" 1 1
            [ for i in comm.Rank .. comm.Size .. n - 1 -> Some(i, n) ]
        | None, None ->
            if comm.Size > 1 then
                raise (UsageError "under mpirun give --shards N (the ranks split the shards)")

            [ None ]

    let s =
        if comm.Size > 1 && (f.TryGet "workers").IsNone then
            { s with
                Workers = Research.Model.Runtime.Communicator.DefaultThreads()
            }
        else
            s

    Research.Model.Runtime.Communicator.Run(
        comm,
        fun () ->
            let clock = Stopwatch.StartNew()

            for shard in shards do
                let label =
                    match shard with
                    | Some(i, n) -> $"pre-training shard {i}/{n}"
                    | None -> "pre-training"

                let result, oov =
                    FeatureStores.buildPretrainingShard shard s skips (Prepare.progressOf label clock)

                let where =
                    match shard with
                    | Some(i, n) -> Path.Combine(Path.GetFullPath s.Out, FeatureStoreShards.Name(i, n))
                    | None -> Path.GetFullPath s.Out

                printfn
                    "%s store %s: %d computed, %d reused, %d skipped; %d of %d tokens out of vocabulary (%s)"
                    (Prepare.stamp clock)
                    where
                    result.Computed
                    result.Reused
                    result.Skipped.Count
                    oov.OovTokens
                    oov.TotalTokens
                    (FeatureStores.oovPath s.Out)

            if comm.Size > 1 then
                comm.Barrier()

            if comm.Rank = 0 && (f.TryGet "shards").IsSome then
                // Every shard is there and of one build: the store opens as one.
                use store = FeatureStore.Open s.Out
                printfn "%s store %s: %d items in %d shards" (Prepare.stamp clock) (Path.GetFullPath s.Out) store.Count store.ShardCount

            if s.Cmvn = CmvnMode.Global && comm.Rank = 0 then
                printfn "global CMVN statistics: %s" (Path.Combine(Path.GetFullPath s.Out, TrainingCmvn.FileName))

            // Under mpirun each rank reports the items of its shards: REPORT.rank-R.json.
            let skipPath =
                f.TryGet "skip-bad"
                |> Option.map (fun p ->
                    if comm.Size > 1 then
                        Path.ChangeExtension(p, $".rank-{comm.Rank}{Path.GetExtension p}")
                    else
                        p)

            FeatureStores.saveSkips skips skipPath
            0
    )

let private emotion (argv: string array) (rest: string array) =
    let f = parseUsage emotionUsage rest
    let skips = FeatureStores.skipReport (f.TryGet "skip-bad") (commandLine argv)

    let s: FeatureStores.EmotionStores =
        {
            Mosei = f.Required "mosei"
            Folds = f.Required "folds"
            Roots =
                MoseiOptions(
                    AudioRoot = f.Get("mosei-audio", "LFBE"),
                    VideoRoot = f.Get("mosei-video", "VGG16"),
                    TextRoot = f.Get("mosei-text", "glove_vectors")
                )
            Out = f.Required "out"
        }

    let clock = Stopwatch.StartNew()

    for KeyValue(fold, r) in FeatureStores.buildEmotion s skips (Prepare.progressOf "emotion" clock) do
        printfn
            "%s store %s: %d computed, %d reused, %d skipped"
            (Prepare.stamp clock)
            (Path.Combine(Path.GetFullPath s.Out, fold))
            r.Computed
            r.Reused
            r.Skipped.Count

    FeatureStores.saveSkips skips (f.TryGet "skip-bad")
    0

/// Entry point: `lfbe`, `pretrain` or `emotion`, then its flags; returns the exit code.
let main (argv: string array) : int =
    match List.ofArray argv with
    | "lfbe" :: rest -> lfbe (Array.ofList rest)
    | "pretrain" :: rest -> pretrain argv (Array.ofList rest)
    | "emotion" :: rest -> emotion argv (Array.ofList rest)
    | [] -> raise (UsageError "missing command (lfbe, pretrain or emotion)")
    | other :: _ -> raise (UsageError $"unknown command '{other}' (lfbe, pretrain or emotion)")
