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
        Runs: string
        Tables: string
        Seeds: int
        /// Train every run into a new folder beside existing ones instead of reusing matching runs (`--fresh`).
        Fresh: bool
        /// The thresholds Table 3's ablations are scored at (`--ablation-thresholds`).
        AblationThresholds: AblationThresholds
        Pretraining: Pretraining
        FineTuning: FineTuning
        LateFusion: LateFusion
        Command: string
    }

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

/// Runs the whole job; returns the results it wrote.
let run (job: Job) : Results =
    let clock = Stopwatch.StartNew()

    let say fmt =
        Printf.kprintf (fun s -> printfn "%s %s" (stamp clock) s) fmt

    let pretrainDir, pretrainStore, emotionRoot, dataset =
        match job.Real with
        | None ->
            say "1/5 data: demo corpus in %s" job.Data

            let prepared =
                Prepare.run
                    {
                        Folder = job.Data
                        Options = job.Corpus
                        Workers = job.Workers
                    }

            prepared.PretrainDir,
            prepared.PretrainStore,
            Path.GetDirectoryName(prepared.EmotionStores["train"]),
            $"demo corpus ({prepared.Corpus.Generator}, seed {prepared.Corpus.Options.Seed})"
        | Some r ->
            say "1/5 data: pre-training %s, CMU-MOSEI %s; features in %s" r.PretrainDir r.Mosei r.Features
            let dir, store, emotion = Prepare.real r job.Workers
            dir, store, emotion, $"MOSEI-format .csd ({r.Mosei}); pre-training on {r.PretrainDir}"

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

    let pretraining =
        { job.Pretraining with
            DataDir = pretrainDir
            Store = pretrainStore
            Inputs = inputs
        }

    say "2/5 multi-task pre-training (%d steps)" pretraining.Budget.Steps
    let pre = Pretrain.run job.Runs { Fresh = job.Fresh; Dataset = dataset } pretraining

    say "    held-out CER %.3f, speaker accuracy %.3f" (pre.Metrics.["cer"]) (pre.Metrics.["speaker_accuracy"])

    let job =
        { job with
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
        }

    let settings =
        {
            Seeds = [ 1 .. job.Seeds ]
            Bootstrap = Metrics.defaultBootstrap
            Dataset = dataset
            Fresh = job.Fresh
            AblationThresholds = job.AblationThresholds
        }

    let models =
        [
            for e in experiments job pre.Run do
                say "3/5 %s: %d seeds" e.Label job.Seeds
                let m = runExperiment job.Runs settings e

                say
                    "    chosen seed %d (dev); test average WA %.1f [%.1f, %.1f], F1 %.1f [%.1f, %.1f]"
                    m.Chosen
                    (100.0 * m.AverageWA.Value)
                    (100.0 * m.AverageWA.Low)
                    (100.0 * m.AverageWA.High)
                    (100.0 * m.AverageF1.Value)
                    (100.0 * m.AverageF1.Low)
                    (100.0 * m.AverageF1.High)

                m
        ]

    say
        "4/5 ablations at inference (%s; thresholds %s)"
        (String.Join(", ", paperAblations |> List.map (fun a -> a.Name)))
        (thresholdsName job.AblationThresholds)

    let ablations =
        [|
            for m in models do
                if m.Key = TableFormat.scratchKey || m.Key = TableFormat.pretrainedKey then
                    let chosen = m.Seeds |> Array.find (fun s -> s.Seed = m.Chosen)

                    for a in paperAblations do
                        let folder =
                            Path.Combine(job.Runs, "ablations", Path.GetFileName chosen.Run, a.Name.Replace("+", ""))

                        let r = ablate settings chosen.Run folder a (m.Key, m.Label)

                        say "    %s %-6s average WA %.1f, F1 %.1f" m.Label a.Name (100.0 * r.AverageWA.Value) (100.0 * r.AverageF1.Value)

                        r
        |]

    // Dataset, command and commit come from the runs the results are built from, not from this invocation.
    let dataset, command, commit = provenanceOf (Runs.origin pre.Run) models

    let results =
        {
            Dataset = dataset
            Command = command
            Commit = commit
            Created = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz")
            Seeds = job.Seeds
            BootstrapResamples = settings.Bootstrap.Resamples
            AblationThresholds = thresholdsName job.AblationThresholds
            Models = Array.ofList models
            Ablations = ablations
            Pretraining = Collections.Generic.Dictionary(pre.Metrics)
            PretrainingRun = pre.Run
        }

    say "5/5 tables and plots in %s" job.Tables
    Directory.CreateDirectory job.Tables |> ignore
    write (Path.Combine(job.Tables, "results.json")) results

    let tables = TableFiles.writeAll job.Tables results

    for path in tables do
        say "    %s" path

    let figures = Figures.all job.Tables results

    for f in figures do
        say "    %s%s" (Path.Combine(job.Tables, f.Html)) (if f.Png.IsSome then " (+ PNG)" else "")

    say "    %s" (Figures.index job.Tables results tables figures)

    say "done in %s" (clock.Elapsed.ToString(@"h\:mm\:ss"))
    results

/// The default job: the demo presets, 3 seeds.
let defaults =
    {
        Data = Path.Combine("data", "demo")
        Corpus = DemoCorpusOptions()
        Real = None
        Workers = Environment.ProcessorCount
        Runs = Path.Combine("runs", "reproduce-demo")
        Tables = "paper-tables"
        Seeds = 3
        Fresh = false
        AblationThresholds = Retuned
        Pretraining =
            { demoPretraining with
                Name = "pretrain"
            }
        FineTuning = demoFineTuning
        LateFusion = demoLateFusion
        Command = "dotnet fsi scripts/reproduce.fsx"
    }
