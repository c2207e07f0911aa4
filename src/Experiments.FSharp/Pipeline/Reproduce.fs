/// The main job (README line 1): data (the demo corpus, generated when absent, and its feature stores) →
/// multi-task pre-training → emotion models from N seeds each (late fusion, TF from scratch, TF fine-tuned from the
/// pre-trained encoder) → choice on dev, test scores with intervals → modality ablations at inference →
/// paper-tables/ (Tables 1–3 as .md/.tex/.csv, results.json, plots, index.html). Finished runs are reused when they
/// match the request (Runs); `Fresh` trains into new folders beside them.
module Research.Experiments.Reproduce

open System
open System.Diagnostics
open System.IO
open Research.Model
open Research.Model.Data
open Research.Model.Demo
open Research.Model.Training
open Research.Model.Models
open Research.Model.Text
open Research.Experiments.Config
open Research.Experiments.Protocol

/// What one invocation does.
type Job =
    {
        /// Demo corpus folder and size.
        Data: string
        Corpus: DemoCorpusOptions
        /// Real corpora instead of the demo (None = the demo corpus).
        Real: Prepare.RealData option
        Workers: int
        /// Data-parallel processes of the pre-training stage (1: this process; more: mpirun, docs/scaling.md).
        Ranks: int
        Runs: string
        Tables: string
        /// How the figures get plotly.js: inline in each file (the default), or one shared plotly.min.js beside them.
        Plotly: Plots.PlotlyMode
        Seeds: int
        /// Train every run into a new folder beside existing ones instead of reusing matching runs (`--fresh`).
        Fresh: bool
        /// The thresholds Table 3's ablations are scored at (`--ablation-thresholds`).
        AblationThresholds: AblationThresholds
        Pretraining: Pretraining
        FineTuning: FineTuning
        LateFusion: LateFusion
        /// The test bootstrap; Unit "cluster" (the default) resamples the unit the corpus's items cluster in
        /// (videos of CMU-MOSEI, speakers of the demo corpus), "segment" resamples segments.
        Bootstrap: Metrics.BootstrapOptions
        Command: string
    }

/// The bootstrap unit "cluster": whatever unit the corpus's test items cluster in (see `clustering`).
[<Literal>]
let ClusterUnit = "cluster"

/// The bootstrap units a job accepts.
let bootstrapUnits = [ ClusterUnit; Metrics.BootstrapUnit.Segment ]

/// The unit a bootstrap request resolves to and the cluster of each test item id: with "cluster", the demo
/// corpus's declared cluster (its manifest's ClusterBy, the speaker of the segment's video from SpeakerOfVideo) or
/// CMU-MOSEI's video (the segment id `video[index]`); with "segment", the id itself.
let clustering (requested: string) (demo: DemoCorpusSummary option) : string * (string -> string) =
    match requested, demo with
    | Metrics.BootstrapUnit.Segment, _ -> Metrics.BootstrapUnit.Segment, id
    | ClusterUnit, None -> Metrics.BootstrapUnit.Video, CorpusFeatures.VideoOfSegment
    | ClusterUnit, Some corpus ->
        if
            corpus.ClusterBy <> Metrics.BootstrapUnit.Speaker
            || isNull corpus.SpeakerOfVideo
        then
            failwithf
                "the demo corpus manifest declares cluster '%s' (expected '%s' with SpeakerOfVideo); regenerate the corpus"
                corpus.ClusterBy
                Metrics.BootstrapUnit.Speaker

        let speakerOf (item: string) =
            let video = CorpusFeatures.VideoOfSegment item

            match corpus.SpeakerOfVideo.TryGetValue video with
            | true, speaker -> speaker
            | _ -> failwithf "video '%s' is not in the demo corpus manifest's SpeakerOfVideo" video

        Metrics.BootstrapUnit.Speaker, speakerOf
    | other, _ ->
        let known = String.Join(", ", bootstrapUnits)
        invalidArg "requested" $"bootstrap unit '{other}' unknown ({known})"

let private stamp (clock: Stopwatch) =
    let t = clock.Elapsed
    sprintf "[%02d:%02d]" (int t.TotalMinutes) t.Seconds

/// The three emotion models of Tables 1 and 2, over the stores and pre-training run given.
let experiments (job: Job) (pretrainRun: string) =
    [
        {
            Key = TableFormat.lateFusionKey
            Label = "Late Fusion"
            Model = LateFusionModel job.LateFusion
        }
        {
            Key = TableFormat.scratchKey
            Label = "TF"
            Model = Transformer(scratch job.FineTuning)
        }
        {
            Key = TableFormat.pretrainedKey
            Label = "Embeddings from the Multi-task model"
            Model =
                Transformer
                    { job.FineTuning with
                        Pretrained = pretrainRun
                    }
        }
    ]

/// What the data stage gives the training stages: the configs completed with the data's paths and sizes, the
/// protocol's settings, and the demo corpus (None with real data).
type Prepared =
    {
        Pretraining: Pretraining
        FineTuning: FineTuning
        LateFusion: LateFusion
        Settings: Settings
        Dataset: string
        Demo: DemoCorpusSummary option
    }

/// The data stage of the job (the demo corpus, generated when absent, or real corpora, and their feature stores):
/// the job's configs completed with the data (stores, input sizes) and the protocol's settings. The sweeps
/// (SweepJob) start from exactly this, so their points equal to the main job's configs are the main job's runs.
let prepare (job: Job) (stages: Stages.Recorder) (say: string -> unit) : Prepared =
    let pretrainDir, pretrainStore, emotionRoot, dataset, demoCorpus =
        match job.Real with
        | None ->
            say $"1/5 data: demo corpus in {job.Data}"

            let prepared =
                Prepare.runTimed
                    stages
                    {
                        Folder = job.Data
                        Options = job.Corpus
                        Workers = job.Workers
                    }

            prepared.PretrainDir,
            prepared.PretrainStore,
            Path.GetDirectoryName(prepared.EmotionStores["train"]),
            $"demo corpus ({prepared.Corpus.Generator}, seed {prepared.Corpus.Options.Seed})",
            Some prepared.Corpus
        | Some r ->
            say $"1/5 data: pre-training {r.PretrainDir}, CMU-MOSEI {r.Mosei}; features in {r.Features}"

            let dir, store, emotion =
                stages.Time("stores", fun () -> Prepare.real r job.Workers)

            dir, store, emotion, $"MOSEI-format .csd ({r.Mosei}); pre-training on {r.PretrainDir}", None

    // The input sizes come from the data: both corpora must give the model the same feature sizes.
    let inputs = Prepare.inputsOf (Path.Combine(emotionRoot, "train"))
    let pretrainInputs = Prepare.inputsOf pretrainStore

    if inputs <> pretrainInputs then
        failwithf
            "the pre-training features (%A, %s) and the emotion features (%A, %s) differ in size; the encoder needs the same"
            pretrainInputs
            pretrainStore
            inputs
            emotionRoot

    let unit, clusterOf = clustering job.Bootstrap.Unit demoCorpus

    {
        Pretraining =
            { job.Pretraining with
                DataDir = pretrainDir
                Store = pretrainStore
                Inputs = inputs
            }
        FineTuning =
            { job.FineTuning with
                Stores = emotionRoot
                Inputs = inputs
            }
        LateFusion =
            { job.LateFusion with
                Stores = emotionRoot
                Inputs = inputs
            }
        Settings =
            {
                Seeds = [ 1 .. job.Seeds ]
                Bootstrap = { job.Bootstrap with Unit = unit }
                Dataset = dataset
                ClusterOf = clusterOf
                Fresh = job.Fresh
                AblationThresholds = job.AblationThresholds
            }
        Dataset = dataset
        Demo = demoCorpus
    }

/// A pre-training run of the job (on `job.Ranks` processes when more than 1), reused when finished and matching.
let pretrain (job: Job) (dataset: string) (pretraining: Pretraining) =
    let request: Runs.Request = { Fresh = job.Fresh; Dataset = dataset }

    let pretraining, request =
        if job.Ranks > 1 then
            Pretrain.launchRanks job.Ranks job.Runs request pretraining
        else
            pretraining, request

    Pretrain.run job.Runs request pretraining

/// Prints a model's protocol result: the chosen seed and its test averages with intervals.
let sayResult (say: string -> unit) (unit: string) (m: ModelResult) =
    say (
        sprintf
            "    chosen seed %d (dev); test average WA %.1f [%.1f, %.1f], F1 %.1f [%.1f, %.1f] (bootstrap over test %ss: %d)"
            m.Chosen
            (100.0 * m.AverageWA.Value)
            (100.0 * m.AverageWA.Low)
            (100.0 * m.AverageWA.High)
            (100.0 * m.AverageF1.Value)
            (100.0 * m.AverageF1.Low)
            (100.0 * m.AverageF1.High)
            unit
            m.TestClusters
    )

/// An experiment under the protocol, each seed's training timed as a stage of its own (named `stage`) (the protocol then reuses the
/// finished runs), the choice and test bootstrap as another.
let runTimedAs (stage: string) (job: Job) (stages: Stages.Recorder) (say: string -> unit) (settings: Settings) (e: Experiment) =
    for seed in settings.Seeds do
        stages.Time($"{stage}, seed {seed}", fun () -> runSeed job.Runs settings e seed |> ignore)

    let m =
        stages.Time($"{stage}, choice and test bootstrap", fun () -> runExperiment job.Runs settings e)

    sayResult say settings.Bootstrap.Unit m
    m

/// `runTimedAs` with the experiment's label as the stage name.
let runTimed (job: Job) (stages: Stages.Recorder) (say: string -> unit) (settings: Settings) (e: Experiment) =
    runTimedAs e.Label job stages say settings e

/// The folder of an ablation's cached predictions: `<runs>/ablations/<chosen run>/<subset without +>`.
let ablationFolder (runs: string) (run: string) (a: Ablation) =
    Path.Combine(runs, "ablations", Path.GetFileName run, a.Name.Replace("+", ""))

/// Runs the whole job; returns the results it wrote. `after` runs once Tables 1–3 and their figures are written,
/// before index.html (the `--beyond` sweeps, SweepJob.beyond), and returns further table files and figures for the
/// index page.
let runThen (job: Job) (after: Job -> Prepared -> Stages.Recorder -> (string -> unit) -> string list * Figures.Written list) : Results =
    let clock = Stopwatch.StartNew()
    let stages = Stages.Recorder()

    let say fmt =
        Printf.kprintf (fun s -> printfn "%s %s" (stamp clock) s) fmt

    let prepared = prepare job stages (fun s -> say "%s" s)
    let pretraining = prepared.Pretraining

    say "2/5 multi-task pre-training (%d steps)" pretraining.Budget.Steps

    let pre =
        stages.Time("pre-training", fun () -> pretrain job prepared.Dataset pretraining)

    say "    held-out CER %.3f, speaker accuracy %.3f" (pre.Metrics.["cer"]) (pre.Metrics.["speaker_accuracy"])

    let job =
        { job with
            FineTuning = prepared.FineTuning
            LateFusion = prepared.LateFusion
        }

    let settings = prepared.Settings

    let models =
        [
            for e in experiments job pre.Run do
                say "3/5 %s: %d seeds" e.Label job.Seeds
                runTimed job stages (fun s -> say "%s" s) settings e
        ]

    say
        "4/5 ablations at inference (%s; thresholds %s)"
        (String.Join(", ", paperAblations |> List.map (fun a -> a.Name)))
        (thresholdsName job.AblationThresholds)

    let ablations =
        stages.Time(
            "ablations",
            fun () ->
                [|
                    for m in models do
                        if m.Key = TableFormat.scratchKey || m.Key = TableFormat.pretrainedKey then
                            let chosen = m.Seeds |> Array.find (fun s -> s.Seed = m.Chosen)

                            for a in paperAblations do
                                let r =
                                    ablate settings chosen.Run (ablationFolder job.Runs chosen.Run a) a (m.Key, m.Label)

                                say
                                    "    %s %-6s average WA %.1f, F1 %.1f"
                                    m.Label
                                    a.Name
                                    (100.0 * r.AverageWA.Value)
                                    (100.0 * r.AverageF1.Value)

                                r
                |]
        )

    // Dataset, command and commit come from the runs the results are built from, not from this invocation.
    let dataset, command, commit = provenanceOf (Runs.origin pre.Run) models

    let results =
        {
            Dataset = dataset
            Command = command
            Commit = commit
            Created = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz")
            Machine =
                $"{Machine.cpuModel ()}, {Environment.ProcessorCount} cores, {Runtime.InteropServices.RuntimeInformation.OSDescription}"
            Seeds = job.Seeds
            Bootstrap = settings.Bootstrap
            BootstrapClusters = models |> List.map (fun m -> m.TestClusters) |> List.max
            AblationThresholds = thresholdsName job.AblationThresholds
            Models = Array.ofList models
            Ablations = ablations
            Pretraining = Collections.Generic.Dictionary(pre.Metrics)
            PretrainingRun = pre.Run
        }

    say "5/5 tables and plots in %s" job.Tables
    Directory.CreateDirectory job.Tables |> ignore
    write (Path.Combine(job.Tables, "results.json")) results

    let tables, figures =
        stages.Time(
            "tables and figures",
            fun () ->
                let tables = TableFiles.writeAll job.Tables results

                for path in tables do
                    say "    %s" path

                let figures = Figures.all job.Plotly job.Tables results

                for f in figures do
                    say "    %s%s" (Path.Combine(job.Tables, f.Html)) (if f.Png.IsSome then " (+ PNG)" else "")

                tables, figures
        )

    let beyondTables, beyondFigures = after job prepared stages (fun s -> say "%s" s)

    // Where the time went (timings.json), before the index page that links it.
    Machine.writeJson (Path.Combine(job.Tables, Stages.timingsFile)) (Stages.toJson stages job.Command results.Commit)
    say "    %s: %s" (Path.Combine(job.Tables, Stages.timingsFile)) (Stages.summaryLine stages)
    say "    %s" (Figures.index job.Tables results (tables @ beyondTables) (figures @ beyondFigures))

    say "done in %s" (clock.Elapsed.ToString(@"h\:mm\:ss"))
    results

/// Runs the whole job (Tables 1–3 only); returns the results it wrote.
let run (job: Job) : Results = runThen job (fun _ _ _ _ -> [], [])

/// The default job: the demo presets, 3 seeds.
let defaults =
    {
        Data = Path.Combine("data", "demo")
        Corpus = DemoCorpusOptions()
        Real = None
        Workers = Environment.ProcessorCount
        Ranks = 1
        Runs = Path.Combine("runs", "reproduce-demo")
        Tables = "paper-tables"
        Plotly = Plots.Inline
        Seeds = 3
        Fresh = false
        AblationThresholds = Retuned
        Pretraining =
            { demoPretraining with
                Name = "pretrain"
            }
        FineTuning = demoFineTuning
        LateFusion = demoLateFusion
        Bootstrap =
            { Metrics.defaultBootstrap with
                Unit = ClusterUnit
            }
        Command = "dotnet fsi scripts/reproduce.fsx"
    }
