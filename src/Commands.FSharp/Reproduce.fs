/// `scripts/reproduce.fsx`: the main job (data → pre-training → emotion models from N seeds → ablations → Tables 1–3,
/// plots and index.html), on the demo corpus or on real corpora.
module Research.Commands.Reproduce

open System
open System.IO
open Research.Model.Data
open Research.Model.Demo
open Research.Experiments
open Research.Experiments.Config
open Research.Experiments.Reproduce
open Research.Commands.Cli

/// What `reproduce` accepts.
let usage =
    {
        Script = "scripts/reproduce.fsx"
        Synopsis = "[flags]"
        Summary =
            "The main job: data (the demo corpus, generated when absent) → pre-training → fine-tuning and both baselines from N seeds → ablations → Tables 1–3, plots and index.html."
        Flags =
            [
                flag "seeds" "N|paper" (string defaults.Seeds) "seeds per emotion model (paper: the paper's 10)"
                flag "preset" "demo|paper" "demo" "sizes and budgets of every model"
                flag
                    "data"
                    "DIR"
                    $"{defaults.Data} (real data: data/real)"
                    "demo corpus folder; with real data, features go to DIR/features"
                flag "corpus" "default|tiny" "default" "demo corpus size; tiny is a few items per split, for checks"
                flag
                    "runs"
                    "DIR"
                    $"{defaults.Runs} (real data: runs/reproduce-real)"
                    "run folders; finished runs are reused, unfinished ones resume, when config and inputs match"
                switch "fresh" "train every run into a new folder beside existing ones (NAME-2, …) instead of reusing them"
                switch
                    "beyond"
                    "after Tables 1–3 also run the three sweeps beyond the paper (task-weights, modality-weights, subsets; scripts/sweep.fsx) into table4-*; costs 8 pre-trainings and 8 emotion models (× seeds) more"
                flag
                    "ablation-thresholds"
                    "retuned|full"
                    "retuned"
                    "Table 3: thresholds re-tuned on each ablation's dev predictions, or the full model's"
                flag "tables" "DIR" defaults.Tables "Tables 1–3 (.md, .tex, .csv), results.json, plots and index.html"
                flag
                    "plotly"
                    "inline|shared"
                    "inline"
                    "plotly.js in every figure file, or one shared plotly.min.js beside them (as the committed paper-tables/)"
                flag "workers" "N" "the number of cores" "parallel workers for corpus generation and features"
                flag
                    "bootstrap-unit"
                    "cluster|segment"
                    "cluster"
                    "test intervals resample whole clusters (CMU-MOSEI: videos; demo corpus: speakers) or single segments"
                flag "bootstrap-resamples" "N" (string defaults.Bootstrap.Resamples) "resamples of the test bootstrap"
                flag "bootstrap-seed" "S" (string defaults.Bootstrap.Seed) "seed of the test bootstrap"
                flag "ranks" "N" "1" "data-parallel processes for pre-training (mpirun -np N; docs/scaling.md)"
                flag
                    "processes"
                    "N"
                    (string defaults.Processes)
                    "2: a second process trains the two baselines meanwhile, cores / 2 threads each; 1: one process with all the cores (at most the cores; 1 under --fresh or --ranks)"
                flag
                    "part-baselines"
                    "TIMINGS.json"
                    "none"
                    "internal: this is the second process of a two-process job (the baselines' seeds only)"
                flag "pretrain-steps" "N" "the preset's" "pre-training steps"
                flag "finetune-steps" "N" "the preset's" "steps of every emotion model"
                flag "pretrain-data" "KALDI_DIR" "none (demo corpus)" "real data: the pre-training Kaldi data dir"
                flag "mosei" "CSD_DIR" "none (demo corpus)" "real data: CMU-MOSEI .csd files"
                flag "folds" "FOLDS.json" "none (demo corpus)" "real data: the standard folds"
                flag "glove" "GLOVE.txt" "none (demo corpus)" "real data: GloVe vectors"
                flag "vgg16" "WEIGHTS" "none (grey levels)" "real data: VGG-16 weights for the visual features"
                flag "mosei-audio" "ROOT" "LFBE" "real data: the .csd root of the audio features"
                flag "mosei-video" "ROOT" "VGG16" "real data: the .csd root of the video features"
                flag "mosei-text" "ROOT" "glove_vectors" "real data: the .csd root of the text features"
                flag "video-fps" "N" "25" "real data: video frames per second sampled"
                flag "visual-side" "N" "64" "real data: side of the grey-level images used without --vgg16"
                flag "cmvn" "utterance|global" "utterance" "real data: CMVN of the pre-training store (global: training split)"
                flag
                    "skip-bad"
                    "REPORT.json"
                    "none: bad input is an error"
                    "real data: skip bad input items of the data dir and both stores, list them in REPORT.json"
            ]
        Examples =
            [
                "dotnet fsi scripts/reproduce.fsx"
                "dotnet fsi scripts/reproduce.fsx -- --corpus tiny --seeds 1 --data /tmp/demo --runs /tmp/runs --tables /tmp/tables"
                "dotnet fsi scripts/reproduce.fsx -- --preset paper --seeds paper --pretrain-data data/vox2-en --mosei data/mosei --folds data/mosei/folds.json --glove glove.840B.300d.txt"
            ]
        Notes = [ "Real data needs --pretrain-data, --mosei, --folds and --glove together." ]
    }

/// The job the flags describe (`command`: the script's command line, recorded with the results). Flags absent from
/// `f` take the main job's defaults, so a command that accepts only some of them (scripts/sweep.fsx) plans the same
/// runs as the main job.
let jobOf (command: string) (f: Flags) (argv: string array) : Job =

    let corpus =
        match f.Get("corpus", "default") with
        | "default" -> DemoCorpusOptions()
        | "tiny" -> DemoCorpusOptions.Tiny
        | other -> raise (UsageError $"--corpus: unknown '{other}' (default or tiny)")

    let workers = f.Int("workers", Environment.ProcessorCount)

    let seeds =
        if f.Get("seeds", "") = "paper" then
            10
        else
            f.Int("seeds", defaults.Seeds)

    if seeds < 1 then
        raise (UsageError $"--seeds: at least 1, got {seeds}")

    // The tiny corpus (a few items per split, for checks) cannot fill the presets' batches.
    let tiny = f.Get("corpus", "default") = "tiny"

    let budget (b: Budget) key =
        let steps = f.Int(key, b.Steps)

        { b with
            Steps = steps
            BatchSize = (if tiny then 2 else b.BatchSize)
            EvaluateEvery = min b.EvaluateEvery steps
            CheckpointEvery = min b.CheckpointEvery steps
        }

    let preTraining, fineTuning, lateFusion =
        match f.Get("preset", "demo") with
        | "demo" -> defaults.Pretraining, defaults.FineTuning, defaults.LateFusion
        | "paper" ->
            { paperPretraining with
                Name = "pretrain"
            },
            paperFineTuning,
            paperLateFusion
        | other -> raise (UsageError $"--preset: unknown '{other}' (demo or paper)")

    let fineTuning =
        { fineTuning with
            Budget = budget fineTuning.Budget "finetune-steps"
        }

    let real: Prepare.RealData option =
        match
            [ "pretrain-data"; "mosei"; "folds"; "glove" ]
            |> List.filter f.Values.ContainsKey
        with
        | [] -> None
        | [ _; _; _; _ ] ->
            let roots =
                MoseiOptions(
                    AudioRoot = f.Get("mosei-audio", "LFBE"),
                    VideoRoot = f.Get("mosei-video", "VGG16"),
                    TextRoot = f.Get("mosei-text", "glove_vectors")
                )

            Some
                {
                    PretrainDir = f.Get("pretrain-data", "")
                    Mosei = f.Get("mosei", "")
                    Folds = f.Get("folds", "")
                    GloVe = f.Get("glove", "")
                    Vgg16 = f.Get("vgg16", "")
                    VideoFps = float (f.Int("video-fps", 25))
                    VisualSide = f.Int("visual-side", 64)
                    Roots = roots
                    Features = Path.Combine(f.Get("data", Path.Combine("data", "real")), "features")
                    Cmvn = FeatureStores.cmvnMode (f.Get("cmvn", "utterance"))
                    HeldOutPerSpeaker = preTraining.HeldOutPerSpeaker
                    SkipBad = f.TryGet "skip-bad"
                }
        | some ->
            let given = String.Join(", ", some)
            raise (UsageError $"real data needs --pretrain-data, --mosei, --folds and --glove together (got only {given})")

    let bootstrapUnit = f.Get("bootstrap-unit", defaults.Bootstrap.Unit)

    if not (List.contains bootstrapUnit bootstrapUnits) then
        raise (UsageError $"--bootstrap-unit: unknown '{bootstrapUnit}' (cluster or segment)")

    let resamples = f.Int("bootstrap-resamples", defaults.Bootstrap.Resamples)

    if resamples < 1 then
        raise (UsageError $"--bootstrap-resamples: at least 1, got {resamples}")

    let runsDefault =
        match real with
        | None -> defaults.Runs
        | Some _ -> Path.Combine("runs", "reproduce-real")

    if f.Int("processes", defaults.Processes) < 1 then
        raise (UsageError "--processes: at least 1")

    let job =
        { defaults with
            Processes = f.Int("processes", defaults.Processes)
            Part =
                match f.Get("part-baselines", "") with
                | "" -> Whole
                | timings -> Baselines timings
            Argv = List.ofArray argv
            Data = f.Get("data", defaults.Data)
            Corpus = corpus.With(corpus.Seed, workers)
            Real = real
            Workers = workers
            Ranks = f.Int("ranks", 1)
            Runs = f.Get("runs", runsDefault)
            Tables = f.Get("tables", defaults.Tables)
            Plotly =
                match f.Get("plotly", "inline") with
                | "inline" -> Plots.Inline
                | "shared" -> Plots.Shared
                | other -> raise (UsageError $"--plotly: unknown '{other}' (inline or shared)")
            Seeds = seeds
            Fresh = f.Has "fresh"
            AblationThresholds = Protocol.thresholdsOf (f.Get("ablation-thresholds", "retuned"))
            Pretraining =
                { preTraining with
                    Budget = budget preTraining.Budget "pretrain-steps"
                }
            FineTuning = fineTuning
            LateFusion =
                { lateFusion with
                    Budget = budget lateFusion.Budget "finetune-steps"
                }
            Bootstrap =
                { defaults.Bootstrap with
                    Unit = bootstrapUnit
                    Resamples = resamples
                    Seed = f.Int("bootstrap-seed", defaults.Bootstrap.Seed)
                }
            Command = String.Join(" ", Array.append [| command |] argv)
        }

    job

/// Entry point: parses flags and runs the job (and with --beyond the sweeps); returns the exit code.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let job = jobOf defaults.Command f argv

    if f.Has "beyond" then
        Research.Experiments.Reproduce.runThen job SweepJob.beyond |> ignore
    else
        Research.Experiments.Reproduce.run job |> ignore

    0
