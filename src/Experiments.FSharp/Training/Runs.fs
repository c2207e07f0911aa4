/// How the training functions pick a run folder and what must match before one is reused or resumed: the run's
/// resolved config, its seed and its inputs (the model/trainer code version, the dataset label and the fingerprints
/// of its feature stores and of the pre-trained weights it starts from; `RunInputs`). Any difference is a
/// `RunConfigMismatchException` naming the run folder and the differing keys; `--fresh` trains into a new folder
/// beside the old ones (name-2, name-3, …) instead, and a later plain request uses the newest of them. Never a
/// silent reuse, never a silent overwrite.
module Research.Experiments.Runs

open System
open System.Collections.Generic
open System.IO
open Research.Model.Data
open Research.Model.Runtime
open Research.Model.Training

/// What a request adds to a configuration: where the run goes and what it is labelled with (not what is trained).
type Request =
    {
        /// Train into a new folder beside existing runs (RunFolder.Fresh) instead of reusing or resuming the latest.
        Fresh: bool
        /// Label of the data the run trains on, written into run.json and printed on the run's table rows; "" = the
        /// input folder (feature stores or data dir).
        Dataset: string
    }

/// A plain request: reuse or resume the latest folder, labelled with its input folder.
let plain = { Fresh = false; Dataset = "" }

/// The folder of run `name` under `runs`: a new one under --fresh, else the latest of name, name-2, … .
let folder (runs: string) (name: string) (request: Request) =
    let path = Path.Combine(runs, name)

    if request.Fresh then
        RunFolder.Fresh path
    else
        RunFolder.Latest path

/// The fingerprints of the emotion stores train/, valid/ and test/ under `stores` ("stores/train", …).
let emotionStores (stores: string) =
    [
        for split in [ "train"; "valid"; "test" ] -> $"stores/{split}", FeatureStore.FingerprintOf(Path.Combine(stores, split))
    ]

/// A run's inputs at the current code version: the request's dataset label (or `fallback` when it has none) and
/// the fingerprints given.
let inputs (request: Request) (fallback: string) (fingerprints: (string * string) list) =
    let dataset = if request.Dataset = "" then fallback else request.Dataset
    RunInputs.Current(dataset, fingerprints |> List.map KeyValuePair)

/// Opens `path` for the run: creates it, or reuses (finished) or resumes (unfinished) it when its config, seed and
/// inputs match; otherwise a RunConfigMismatchException naming the folder and the differing keys.
let openRun (path: string) (config: obj) (seed: int) (inputs: RunInputs) =
    RunFolder.OpenOrResume(path, config, seed, RunInfo.Capture(), inputs)

/// The communicator of a training run (MPI under mpirun, else one process) and its torch threads: `threads`, at most the
/// cores divided among the ranks on this machine when there are several. Refuses `--fresh` under mpirun (every rank
/// would pick its own new folder; `--ranks N` picks it once, then launches the ranks on it).
let startRanks (request: Request) (threads: int) =
    let comm = Communicator.FromEnvironment()

    if comm.Size > 1 && request.Fresh then
        invalidArg
            "fresh"
            "--fresh under mpirun: every rank would pick its own new folder; give --fresh with --ranks N to the launching command instead"

    TorchRuntime.Initialize(
        if comm.Size > 1 then
            min threads (Communicator.DefaultThreads())
        else
            threads
    )

    comm

/// Trains a configuration as `ranks` data-parallel processes on this machine: picks the run folder of `name` once (a
/// new one under `request.Fresh`), writes the config (`configJson` of the folder's name) to a temporary file, runs
/// `mpirun -np ranks dotnet fsi scripts/<script> -- --config FILE --runs runs [--dataset L] <extra>` and waits.
/// Returns the folder's name and the request under which the finished run is then reused. A missing mpirun or more
/// ranks than items in a global batch of `batchSize` is a clear error before anything is written.
let launchRanks
    (script: string)
    (what: string)
    (ranks: int)
    (batchSize: int)
    (runs: string)
    (request: Request)
    (name: string)
    (configJson: string -> string)
    (extra: string list)
    =
    DataParallel.CheckBatch(batchSize, ranks)
    MpiLauncher.Find() |> ignore
    Directory.CreateDirectory runs |> ignore
    let name = Path.GetFileName(folder runs name request)
    let configFile = Path.Combine(runs, $".{name}.ranks-{Environment.ProcessId}.json")
    File.WriteAllText(configFile, configJson name)

    try
        let script = Path.Combine(Machine.repoRoot (), "scripts", script)
        printfn "%s %s: %d ranks (mpirun)" what name ranks

        let dataset =
            if request.Dataset = "" then
                []
            else
                [ "--dataset"; request.Dataset ]

        let code =
            MpiLauncher.Run(
                ranks,
                "dotnet",
                [ "fsi"; script; "--"; "--config"; configFile; "--runs"; runs ]
                @ dataset
                @ extra
            )

        if code <> 0 then
            failwith $"{what} {name} on {ranks} ranks failed (mpirun exit code {code}); the same command resumes from the last checkpoint"

        name, { request with Fresh = false }
    finally
        File.Delete configFile

/// Where a run came from, as its run.json records it: the dataset label, the commit and the command that started it.
type Origin =
    {
        Run: string
        Dataset: string
        Commit: string
        Command: string
    }

/// A commit as tables print it: "(with uncommitted changes)" added when the tree was dirty.
let commitText (info: RunInfo) =
    if info.GitDirty = Nullable true then
        info.GitCommit + " (with uncommitted changes)"
    else
        info.GitCommit

/// A recorded command line as typed: `dotnet fsi scripts/X.fsx -- …` for scripts run by F# Interactive. The second
/// process of a two-process main job reads as the job's command: its `--part-baselines FILE` (the job passes it
/// itself) is left out, and a script path ending in `scripts/X.fsx` is shown from `scripts/`.
let commandText (commandLine: IReadOnlyList<string>) =
    let quote (a: string) =
        if a = "" || a.IndexOfAny([| ' '; '"'; '\'' |]) >= 0 then
            "'" + a.Replace("'", "'\\''") + "'"
        else
            a

    let rec withoutPart (args: string list) =
        match args with
        | "--part-baselines" :: _ :: rest -> withoutPart rest
        | a :: rest -> a :: withoutPart rest
        | [] -> []

    let partOfJob = Seq.contains "--part-baselines" commandLine

    let script (path: string) =
        let parent = Path.GetFileName(Path.GetDirectoryName path)

        if partOfJob && Path.IsPathRooted path && parent = "scripts" then
            "scripts/" + Path.GetFileName path
        else
            path

    let args =
        match withoutPart (List.ofSeq commandLine) with
        | first :: path :: rest -> first :: script path :: rest
        | args -> args

    let program, rest =
        match args with
        | [] -> "", []
        | first :: script :: flags when
            Path.GetFileName(first).Equals("fsi.dll", StringComparison.OrdinalIgnoreCase)
            && script.EndsWith(".fsx", StringComparison.OrdinalIgnoreCase)
            && not flags.IsEmpty
            && flags.Head <> "--"
            ->
            // F# Interactive drops the "--" that separates its own arguments from the script's.
            "dotnet fsi", script :: "--" :: flags
        | first :: rest when Path.GetFileName(first).Equals("fsi.dll", StringComparison.OrdinalIgnoreCase) -> "dotnet fsi", rest
        | first :: rest -> Path.GetFileName first, rest

    String.Join(" ", program :: List.map quote rest)

/// The origin of the run in `run` (its run.json); a run without recorded inputs has the dataset "(not recorded)".
let origin (run: string) : Origin =
    let r = RunFolder.ReadRun run

    {
        Run = Path.GetFullPath run
        Dataset =
            match r.Inputs with
            | null -> "(not recorded)"
            | i -> i.Dataset
        Commit = commitText r.Start
        Command = commandText r.Start.CommandLine
    }
