/// The main job (README line 1): data (the demo corpus, generated when absent, and its feature stores) →
/// multi-task pre-training → emotion models from N seeds each (late fusion, TF from scratch, TF fine-tuned from the
/// pre-trained encoder) → choice on dev, test scores with intervals → modality ablations at inference →
/// paper-tables/ (Tables 1–3 as .md/.tex/.csv, results.json, plots, index.html). Finished runs are reused when they
/// match the request (Runs); `Fresh` trains into new folders beside them.
module Research.Experiments.Reproduce

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Research.Model
open Research.Model.Data
open Research.Model.Demo
open Research.Model.Training
open Research.Model.Models
open Research.Model.Text
open Research.Experiments.Config
open Research.Experiments.Protocol

/// Which part of the job this process runs.
type Part =
    /// Everything (the default).
    | Whole
    /// The second process of a two-process job (`Processes` 2): data (reused), then the seeds of the two baselines
    /// that need no pre-training (late fusion, TF from scratch); its stage timings go to the file given.
    | Baselines of timings: string

/// What one invocation does.
type Job =
    {
        /// Processes the job's training runs are spread over, each with cores / Processes torch threads: with 2, a
        /// second process trains the baselines that need no pre-training (late fusion, TF from scratch) while this
        /// one pre-trains and fine-tunes; the rest (choice on dev, test bootstrap, ablations, tables) follows here.
        Processes: int
        /// This process's part (Whole, or Baselines in the second process).
        Part: Part
        /// The arguments the job was started with (the second process gets the same, plus its part).
        Argv: string list
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

/// The flag that makes a reproduce invocation the second process of a two-process job (not in --help: the job
/// passes it itself), with the file its stage timings go to.
[<Literal>]
let BaselinesPartFlag = "--part-baselines"

/// The processes a job actually uses: 1 under `--fresh` (each process would pick its own new run folders) or with
/// data-parallel pre-training (its ranks take the cores), else the request, at most the cores.
let processesOf (job: Job) =
    if job.Fresh || job.Ranks > 1 then
        1
    else
        max 1 (min job.Processes Environment.ProcessorCount)

/// The environment variable through which the second process learns the first one's pid.
[<Literal>]
let JobPidVariable = "RESEARCH_JOB_PID"

[<System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")>]
extern int private sendSignal(int pid, int signal)

/// In the second process: ends it when the first one is gone (killed, say), so that no orphan keeps training or
/// holding run folders' locks. A background thread checks every 2 s that the process named by RESEARCH_JOB_PID
/// exists (kill with signal 0).
let private exitWithJob () =
    match Int32.TryParse(Environment.GetEnvironmentVariable JobPidVariable) with
    | true, pid when OperatingSystem.IsLinux() && sendSignal (pid, 0) = 0 ->
        let watch =
            Threading.Thread(
                (fun () ->
                    while sendSignal (pid, 0) = 0 do
                        Threading.Thread.Sleep 2000

                    eprintfn "the first process of the job (pid %d) is gone; the second process stops" pid
                    exit 3),
                IsBackground = true
            )

        watch.Start()
    | _ -> ()

/// The .NET runtime's switch between server and workstation GC, read at process start.
[<Literal>]
let GcServerVariable = "DOTNET_gcServer"

/// "server" or "workstation": this process's garbage collector.
let gcMode () =
    if Runtime.GCSettings.IsServerGC then
        "server"
    else
        "workstation"

/// The key of the second process's timings file that gives its whole CPU time (seconds).
[<Literal>]
let ProcessCpuKey = "process_cpu_s"

/// The key of the second process's timings file that names its garbage collector.
[<Literal>]
let GcKey = "gc"

/// In the first process: the second one's CPU time excluded from this process's (Stages.excludeChildCpu) once, when
/// it has exited and its timings file says it (a second process that failed wrote none: nothing is excluded).
let excludeSecondProcessCpu (timings: string) =
    let excluded = ref 0

    fun () ->
        if File.Exists timings && Threading.Interlocked.Exchange(&excluded.contents, 1) = 0 then
            match JsonNode.Parse(File.ReadAllText timings)[ProcessCpuKey] with
            | null -> ()
            | n -> Stages.excludeChildCpu (n.GetValue<float>())

/// The second process: `dotnet fsi scripts/reproduce.fsx -- ARGV --part-baselines TIMINGS`, its output in `log`.
let private startBaselines (job: Job) (timings: string) (log: string) =
    // Relative to the working directory (as typed, when the job runs from the repository's root), so that run.json
    // records the command as the job's.
    let script =
        Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(Machine.repoRoot (), "scripts", "reproduce.fsx"))
    // The shell sends the output to the log itself: no thread of this process has to copy it.
    let info = ProcessStartInfo("/bin/sh", UseShellExecute = false)

    for a in
        [
            "-c"
            "exec \"$0\" \"$@\" > \"$RESEARCH_JOB_LOG\" 2>&1"
            "dotnet"
            "fsi"
            script
            "--"
        ]
        @ job.Argv
        @ [ BaselinesPartFlag; timings ] do
        info.ArgumentList.Add a

    info.Environment[JobPidVariable] <- string Environment.ProcessId
    // Workstation GC (unless the user chose): F# Interactive runs with server GC, whose collections run on a thread per
    // core and so take the other process's core; measured with two 1-thread demo training processes side by side, the
    // steps of both were ~7 % faster with the second one on workstation GC (docs/scaling.md).
    if isNull (Environment.GetEnvironmentVariable GcServerVariable) then
        info.Environment[GcServerVariable] <- "0"

    info.Environment["RESEARCH_JOB_LOG"] <- Path.GetFullPath log

    let p =
        match Process.Start info with
        | null -> failwith "could not start the second process (dotnet fsi scripts/reproduce.fsx)"
        | p -> p

    // Its CPU time out of this process's stages as soon as it is reaped (it may end during any of them).
    let exclude = excludeSecondProcessCpu timings
    p.EnableRaisingEvents <- true
    p.Exited.Add(fun _ -> exclude ())

    // The second process must not outlive this one (an interrupted job is resumed by running it again); when this
    // one is killed outright, the second notices within seconds (RESEARCH_JOB_PID) and stops.
    let stop =
        AppDomain.CurrentDomain.ProcessExit.Subscribe(fun _ ->
            try
                if not p.HasExited then
                    p.Kill true
            with _ ->
                ())

    p, stop, exclude

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
    // cores / processes torch threads per run (see Job.Processes); the sweeps get the same configs.
    let threads = max 1 (Environment.ProcessorCount / processesOf job)

    let job =
        { job with
            Pretraining =
                { job.Pretraining with
                    Threads = min job.Pretraining.Threads threads
                }
            FineTuning =
                { job.FineTuning with
                    Threads = min job.FineTuning.Threads threads
                }
            LateFusion =
                { job.LateFusion with
                    Threads = min job.LateFusion.Threads threads
                }
        }

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

/// Whether an exception says that another process holds a run's lock (a RunLockedException, possibly wrapped).
let rec private heldElsewhere (e: exn) =
    match e with
    | null -> false
    | :? RunLockedException -> true
    | _ -> heldElsewhere e.InnerException

/// What became of a run in a shared list (see shareForward).
type Shared =
    /// Trained here (or resumed and finished here).
    | Trained
    /// Found finished.
    | Reused
    /// Its lock is held by the other process, which trains it.
    | Held

/// The two processes of a job share the runs that either can train, each taking them in its own order, so that
/// neither waits while the other still has work; the run folders' locks keep a run from being trained twice.
/// Forward (a process's own list): every run, leaving those whose lock the other process holds.
let shareForward (attempt: 'a -> Shared) (work: 'a list) =
    for w in work do
        attempt w |> ignore

/// Backward (the other process's list, from its end): until the first run not trained here, held or finished by the
/// other process (everything before it is finished or in training there); `notMine` is told of that last one.
let shareBackward (attempt: 'a -> Shared) (notMine: 'a -> Shared -> unit) (work: 'a list) =
    let rec loop rest =
        match rest with
        | [] -> ()
        | w :: tail ->
            match attempt w with
            | Trained -> loop tail
            | other -> notMine w other

    loop (List.rev work)

/// Trains (or reuses) one seed as a stage, unless the other process of a two-process job holds its run (training
/// it): then no stage is recorded and it is left to that process.
let private trainUnlessHeld (runs: string) (stages: Stages.Recorder) (say: string -> unit) (settings: Settings) (e: Experiment, seed: int) =
    let name = $"{e.Label}, seed {seed}"

    try
        stages.Time(name, fun () -> runSeed runs settings e seed |> ignore)

        match stages.Stages |> List.tryFindBack (fun s -> s.Name = name) with
        | Some s when s.Reused -> Reused
        | _ -> Trained
    with ex when heldElsewhere ex ->
        stages.Remove name
        say $"    {name}: in training in the other process of the job; left to it"
        Held

/// The seeds of experiments shared between the two processes of a job: forward in one's own list, backward through
/// the other's (a finished run found there is not a stage of this process: it only ended the search).
let private shareSeeds runs (stages: Stages.Recorder) say settings =
    let attempt = trainUnlessHeld runs stages say settings

    let forward work = shareForward attempt work

    let backward work =
        shareBackward
            attempt
            (fun (e: Experiment, seed) outcome ->
                if outcome = Reused then
                    stages.Remove $"{e.Label}, seed {seed}")
            work

    forward, backward

/// Runs the whole job; returns the results it wrote. `after` runs once Tables 1–3 and their figures are written,
/// before index.html (the `--beyond` sweeps, SweepJob.beyond), and returns further table files and figures for the
/// index page.
let runThen (job: Job) (after: Job -> Prepared -> Stages.Recorder -> (string -> unit) -> string list * Figures.Written list) : Results =
    let clock = Stopwatch.StartNew()
    let stages = Stages.Recorder()
    stages.Fact("gc", gcMode ())

    let say fmt =
        Printf.kprintf (fun s -> printfn "%s %s" (stamp clock) s) fmt

    if job.Part <> Whole then
        exitWithJob ()

    let prepared = prepare job stages (fun s -> say "%s" s)
    let pretraining = prepared.Pretraining
    let settings = prepared.Settings

    let jobWithData =
        { job with
            FineTuning = prepared.FineTuning
            LateFusion = prepared.LateFusion
        }

    let baselineKeys = [ TableFormat.lateFusionKey; TableFormat.scratchKey ]

    let seedsOf (es: Experiment list) =
        [
            for e in es do
                for seed in settings.Seeds -> e, seed
        ]

    let baselines =
        experiments jobWithData ""
        |> List.filter (fun e -> List.contains e.Key baselineKeys)

    match job.Part with
    | Baselines timings ->
        // The second process: the baselines' seeds first to last; then, once pre-training has finished in the first
        // process, the fine-tuning seeds from the last one down (the first process trains them first to last); then its
        // timings for the first process; nothing else.
        for e in baselines do
            say "%s: %d seeds" e.Label job.Seeds

        let forward, backward = shareSeeds job.Runs stages (fun s -> say "%s" s) settings
        forward (seedsOf baselines)

        let request: Runs.Request =
            {
                Fresh = job.Fresh
                Dataset = prepared.Dataset
            }

        let pretrainingRun = Runs.folder job.Runs pretraining.Name request

        if not (RunFolder.IsDone pretrainingRun) then
            say "waiting for pre-training to finish in the first process (%s), to share its fine-tuning seeds" pretrainingRun

            stages.Time(
                "waiting for pre-training",
                fun () ->
                    while not (RunFolder.IsDone pretrainingRun) do
                        Threading.Thread.Sleep 2000
            )

        let pre = pretrain job prepared.Dataset pretraining

        let fineTuned =
            experiments jobWithData pre.Run
            |> List.filter (fun e -> not (List.contains e.Key baselineKeys))

        backward (seedsOf fineTuned)
        // With this process's whole CPU time (its tools' included), which the first one excludes from its own stages.
        let json = Stages.toJson stages job.Command ""
        json[ProcessCpuKey] <- JsonValue.Create(Math.Round(Stages.cpuSeconds (), 2))
        json[GcKey] <- JsonValue.Create(gcMode ())
        Machine.writeJson timings json
        say "done in %s" (clock.Elapsed.ToString(@"h\:mm\:ss"))
        exit 0
    | Whole -> ()

    // With two processes the second one trains the baselines meanwhile (its output in baselines.log).
    let second =
        if processesOf job > 1 then
            Directory.CreateDirectory job.Runs |> ignore
            let timings = Path.Combine(job.Runs, ".baselines-timings.json")
            let log = Path.Combine(job.Runs, "baselines.log")
            File.Delete timings

            say
                "    late fusion and TF from scratch: in a second process meanwhile (%d threads each; output in %s)"
                prepared.FineTuning.Threads
                log

            Some(stages.Elapsed, timings, log, startBaselines job timings log)
        else
            None

    say "2/5 multi-task pre-training (%d steps)" pretraining.Budget.Steps

    let pre =
        stages.Time("pre-training", fun () -> pretrain job prepared.Dataset pretraining)

    say "    held-out CER %.3f, speaker accuracy %.3f" (pre.Metrics.["cer"]) (pre.Metrics.["speaker_accuracy"])

    let job = jobWithData
    let all = experiments job pre.Run

    // With a second process: fine-tune here, then wait for its baselines and take its stage timings in.
    match second with
    | None -> ()
    | Some(started, timings, log, (p: Process, stop: IDisposable, exclude: unit -> unit)) ->
        let fineTuned = all |> List.filter (fun e -> not (List.contains e.Key baselineKeys))

        for e in fineTuned do
            say "3/5 %s: %d seeds" e.Label job.Seeds

        // Shared with the second process (see shareForward): the fine-tuning seeds first to last, then the baselines'
        // seeds it has not reached, from the last one down.
        let forward, backward = shareSeeds job.Runs stages (fun s -> say "%s" s) settings
        forward (seedsOf fineTuned)
        backward (seedsOf baselines)
        say "    waiting for the second process (late fusion, TF from scratch; %s)" log

        stages.Time(
            "waiting for the second process",
            fun () ->
                p.WaitForExit()
                stop.Dispose()
                // In case the Exited handler has not run yet (it excludes once either way).
                exclude ()
        )

        if p.ExitCode <> 0 then
            // Its last lines (where its error is) here, the rest in its log.
            let tail =
                File.ReadAllLines log
                |> Array.filter (fun l -> l.Trim() <> "")
                |> fun lines -> lines[max 0 (lines.Length - 8) ..]

            failwithf
                "the second process (late fusion and TF from scratch) failed with exit code %d; its last lines:\n%s\n(all its output: %s; running the same command again resumes it)"
                p.ExitCode
                (String.Join("\n", tail))
                log

        if Stages.didWork timings then
            Stages.noteWork ()

        // On this recorder's clock: from the second process's own start when its file says it (it started a few
        // seconds after it was launched), else from its launch.
        let offset =
            match Stages.startedOf timings with
            | Some t -> (t - stages.Started).TotalSeconds
            | None -> started

        match JsonNode.Parse(File.ReadAllText timings)[GcKey] with
        | null -> ()
        | gc -> stages.Fact("second_process_gc", gc.GetValue<string>())

        for stage in Stages.read timings do
            stages.Add
                { stage with
                    Name = $"second process: {stage.Name}"
                    StartSeconds = offset + stage.StartSeconds
                }

    let models =
        [
            for e in all do
                say "3/5 %s: %d seeds%s" e.Label job.Seeds (if second.IsSome then " (trained)" else "")

                if second.IsNone then
                    runTimed job stages (fun s -> say "%s" s) settings e
                else
                    // Trained above or by the second process: the protocol reuses the finished runs.
                    let m =
                        stages.Time($"{e.Label}, choice and test bootstrap", fun () -> runExperiment job.Runs settings e)

                    sayResult (fun s -> say "%s" s) settings.Bootstrap.Unit m
                    m
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
    let timingsPath = Path.Combine(job.Tables, Stages.timingsFile)

    if Stages.write timingsPath stages job.Command results.Commit then
        say "    %s: %s" timingsPath (Stages.summaryLine stages)
    else
        say "    %s: kept (every stage reused; it holds the timings of the job that trained the runs)" timingsPath

    say "    %s" (Figures.index job.Tables results (tables @ beyondTables) (figures @ beyondFigures))

    say "done in %s" (clock.Elapsed.ToString(@"h\:mm\:ss"))
    results

/// Runs the whole job (Tables 1–3 only); returns the results it wrote.
let run (job: Job) : Results = runThen job (fun _ _ _ _ -> [], [])

/// The default job: the demo presets, 3 seeds.
let defaults =
    {
        // Two: the demo model gains nothing from a second thread (BENCHMARKS.md, section 9), so the baselines train
        // beside pre-training at no cost to it.
        Processes = 2
        Part = Whole
        Argv = []
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
