/// Runs a sweep beyond the paper (Sweeps.fs; `scripts/sweep.fsx`, and the main job's `--beyond`): the main job's data
/// stage (Reproduce.prepare), then what the sweep's plan needs that is not finished — each distinct pre-training run,
/// each point's emotion TF from every seed under the unchanged protocol (choice on dev, test bootstrap intervals),
/// and for the subset sweep every model on each of the seven modality subsets it can run on — and writes
/// `sweep-<name>.json` beside results.json, `table4-<name>.md/.tex/.csv` and the figure `table4-<name>.html/.png`.
/// The default runs folder is the main job's, so the points equal to its configs reuse its finished runs.
module Research.Experiments.SweepJob

open System
open System.Diagnostics
open System.IO
open Research.Experiments.Config
open Research.Experiments.Protocol
open Research.Experiments.Reproduce

/// What a sweep wrote: its results and the paths of its tables and figure.
type Written =
    {
        Results: Table4.SweepResults
        Tables: string list
        Figure: Figures.Written
    }

/// A pre-training run's held-out metrics and, when it learned its modality weights, their final values from its
/// metrics.json (`modality_weight_audio`, `_video`, `_text`).
let private withLearnedWeights (run: string) (metrics: Collections.Generic.IReadOnlyDictionary<string, float>) =
    let all = Collections.Generic.Dictionary(metrics)
    let m = Research.Model.Training.RunFolder.ReadMetrics run

    match m.TryGetProperty "modality_weights" with
    | true, w when w.ValueKind = Text.Json.JsonValueKind.Object ->
        for p in w.EnumerateObject() do
            all[p.Name] <- p.Value.GetDouble()
    | _ -> ()

    all

/// Runs the sweep `name` (Sweeps.named) over the job's configs and data, after `prepared` (the job's data stage);
/// returns what it wrote into `job.Tables`.
let runPrepared (job: Job) (prepared: Prepared) (stages: Stages.Recorder) (say: string -> unit) (name: string) : Written =
    let sweep = Sweeps.byName name
    let settings = prepared.Settings

    let baseConfigs: Sweeps.Base =
        {
            Runs = job.Runs
            Pretraining = prepared.Pretraining
            FineTuning = prepared.FineTuning
        }

    let points = Sweeps.plan baseConfigs sweep
    let pretrainings = points |> List.choose _.Pretraining |> List.distinct
    say $"sweep {name}: {points.Length} models, {pretrainings.Length} pre-training runs, {settings.Seeds.Length} seeds each"

    // Each distinct pre-training once (finished ones reused); the emotion runs start from the folder it trained in
    // (with --fresh a new one beside the planned name).
    let trained =
        [
            for i, p in List.indexed pretrainings do
                say $"  pre-training {i + 1}/{pretrainings.Length}: {p.Name} ({p.Budget.Steps} steps)"

                let pre =
                    stages.Time($"sweep {name}: pre-training {p.Name}", fun () -> pretrain job prepared.Dataset p)

                p, pre
        ]

    let experimentOf (point: Sweeps.PlannedPoint) =
        match point.Pretraining, point.Experiment.Model with
        | Some p, Transformer c ->
            let pre = trained |> List.find (fun (q, _) -> q = p) |> snd

            { point.Experiment with
                Model = Transformer { c with Pretrained = pre.Run }
            }
        | _ -> point.Experiment

    let models =
        [
            for i, point in List.indexed points do
                say $"  model {i + 1}/{points.Length}: {point.Label}"
                runTimedAs $"sweep {name}: {point.Label}" job stages say settings (experimentOf point)
        ]

    let ablations =
        match sweep with
        | Sweeps.Subsets _ ->
            stages.Time(
                $"sweep {name}: subsets",
                fun () ->
                    [|
                        for m, point in List.zip models points do
                            let chosen = m.Seeds |> Array.find (fun s -> s.Seed = m.Chosen)

                            let size =
                                match point.Experiment.Model with
                                | Transformer c -> c.Model
                                | LateFusionModel _ -> failwithf "the subset sweep's %s is not a transformer" m.Key

                            for a in allSubsets do
                                if runsOn size a then
                                    let r =
                                        ablate settings chosen.Run (ablationFolder job.Runs chosen.Run a) a (m.Key, m.Label)

                                    say (
                                        sprintf
                                            "    %s %-6s average WA %.1f, F1 %.1f"
                                            m.Label
                                            a.Name
                                            (100.0 * r.AverageWA.Value)
                                            (100.0 * r.AverageF1.Value)
                                    )

                                    r
                                else
                                    say $"    {m.Label} {a.Name}: – (the paper's encoder needs audio)"
                    |]
            )
        | _ -> [||]

    // The price of any-subset training on the inputs the paper's model takes: any-subset − pre-trained TF on each
    // subset with audio, paired (the same test clusters drawn for both).
    let differences =
        match sweep with
        | Sweeps.Subsets _ ->
            [|
                let find key (a: Ablation) =
                    ablations |> Array.tryFind (fun r -> r.Key = key && r.Modalities = a.Name)

                for a in allSubsets do
                    match find "any-subset" a, find TableFormat.pretrainedKey a with
                    | Some x, Some y ->
                        let folderOf (r: AblationResult) = ablationFolder job.Runs r.Run a
                        let d = ablationDifference settings (x, folderOf x) (y, folderOf y)

                        say (
                            sprintf
                                "    %s − %s on %s: average WA %+.1f [%+.1f, %+.1f], F1 %+.1f [%+.1f, %+.1f] (paired)"
                                x.Label
                                y.Label
                                a.Name
                                (100.0 * d.WA.Value)
                                (100.0 * d.WA.Low)
                                (100.0 * d.WA.High)
                                (100.0 * d.F1.Value)
                                (100.0 * d.F1.Low)
                                (100.0 * d.F1.High)
                        )

                        d
                    | _ -> ()
            |]
        | _ -> [||]

    let main =
        trained
        |> List.tryFind (fun (p, _) -> p = prepared.Pretraining)
        |> Option.orElse (List.tryHead trained)

    let mainPre =
        match main with
        | Some(_, pre) -> pre
        | None -> failwithf "sweep %s has no pre-training run" name

    let dataset, command, commit = provenanceOf (Runs.origin mainPre.Run) models

    let results: Results =
        {
            Dataset = dataset
            Command = command
            Commit = commit
            Created = DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz")
            Machine =
                $"{Machine.cpuModel ()}, {Environment.ProcessorCount} cores, {Runtime.InteropServices.RuntimeInformation.OSDescription}"
            Seeds = settings.Seeds.Length
            Bootstrap = settings.Bootstrap
            BootstrapClusters = models |> List.map (fun m -> m.TestClusters) |> List.max
            AblationThresholds = thresholdsName settings.AblationThresholds
            Models = Array.ofList models
            Ablations = ablations
            Pretraining = Collections.Generic.Dictionary(mainPre.Metrics)
            PretrainingRun = mainPre.Run
        }

    let pretrainingPoints =
        [|
            for m, point in List.zip models points do
                match point.Pretraining with
                | Some p ->
                    let pre = trained |> List.find (fun (q, _) -> q = p) |> snd

                    ({
                        Key = m.Key
                        Run = pre.Run
                        Metrics = withLearnedWeights pre.Run pre.Metrics
                    }
                    : Table4.PretrainingPoint)
                | None -> ()
        |]

    let sweepResults: Table4.SweepResults =
        {
            Sweep = name
            Results = results
            Pretrainings = pretrainingPoints
            Differences = differences
        }

    Directory.CreateDirectory job.Tables |> ignore
    let json = Path.Combine(job.Tables, Table4.resultsFile name)
    Table4.write json sweepResults
    say $"  {json}"

    let tables =
        stages.Time($"sweep {name}: tables and figure", fun () -> Table4.writeAll job.Tables sweepResults)

    for t in tables do
        say $"  {t}"

    let figure = SweepFigures.write job.Plotly job.Tables sweepResults
    say $"""  {Path.Combine(job.Tables, figure.Html)}{if figure.Png.IsSome then " (+ PNG)" else ""}"""

    {
        Results = sweepResults
        Tables = tables
        Figure = figure
    }

/// The main job's `--beyond`: the three sweeps after Tables 1–3 (Reproduce.runThen); their tables and figures for
/// the index page.
let beyond (job: Job) (prepared: Prepared) (stages: Stages.Recorder) (say: string -> unit) =
    let written =
        [ for name, _ in Sweeps.named -> runPrepared job prepared stages say name ]

    written |> List.collect _.Tables, written |> List.map _.Figure

/// Runs one sweep on its own (`scripts/sweep.fsx`): the data stage, then the sweep; timings go to
/// `timings-sweep-<name>.json` beside the tables.
let run (job: Job) (name: string) : Written =
    Sweeps.byName name |> ignore
    let clock = Stopwatch.StartNew()
    let stages = Stages.Recorder()

    let say (s: string) =
        let t = clock.Elapsed
        printfn "[%02d:%02d] %s" (int t.TotalMinutes) t.Seconds s

    let prepared = prepare job stages say
    let written = runPrepared job prepared stages say name

    // The main job's index page in the same folder links this sweep too (the main job's --beyond does the same).
    match Figures.addToIndex job.Tables written.Tables [ written.Figure ] with
    | Some page -> say $"  {page}: links table4-{name} and its figure"
    | None -> ()

    let timings = Path.Combine(job.Tables, $"timings-sweep-{name}.json")
    Machine.writeJson timings (Stages.toJson stages job.Command written.Results.Results.Commit)
    say $"  {timings}: {Stages.summaryLine stages}"
    say $"""done in {clock.Elapsed.ToString(@"h\:mm\:ss")}"""
    written
