/// Where a long job's time goes: wall time, CPU time (this process and the tools it waited for) and the machine's
/// load per stage, written as timings.json beside the tables (issue #13). CPU time above wall time means the stage
/// used more than one core; a load average or CPU stall share well above zero at a stage's end means other work
/// competed for the cores, so its wall time says less about our code.
module Research.Experiments.Stages

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes

let private excludedSync = obj ()
let mutable private excludedChildSeconds = 0.0

/// Takes a child process's CPU seconds out of `cpuSeconds` from now on: a child whose time is recorded on its own (the
/// second process of a two-process job writes its stages, CPU included, to its own timings file), so that this
/// process's stage during which it was reaped does not count it again (Linux adds a child's whole CPU time to its
/// parent's children's times when the parent waits for it, and .NET waits for its children as soon as they exit).
let excludeChildCpu (seconds: float) =
    lock excludedSync (fun () -> excludedChildSeconds <- excludedChildSeconds + seconds)

/// CPU seconds used so far by this process and by the child processes it has waited for (ffmpeg, espeak-ng,
/// Chromium), less those excluded (`excludeChildCpu`): utime + stime + cutime + cstime of /proc/self/stat; this
/// process's own time where /proc is absent.
let cpuSeconds () =
    try
        let stat = File.ReadAllText "/proc/self/stat"
        // Fields after the command name (which may hold spaces) start at field 3, the state.
        let fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ')
        // utime, stime, cutime, cstime are fields 14-17, in clock ticks (USER_HZ, 100 on Linux).
        let ticks = [ 11..14 ] |> List.sumBy (fun i -> float fields[i])
        ticks / 100.0 - lock excludedSync (fun () -> excludedChildSeconds)
    with _ ->
        Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds

/// The file a job's stage timings go to, beside its tables.
let timingsFile = "timings.json"

let mutable private reuses = 0L
let mutable private works = 0L

/// Said by code that found its work done (a finished run, a store with every item, a cached prediction): a stage
/// that only reused is marked `reused` in timings.json, and a job that did no work keeps the timings of the one that did.
let noteReused () =
    Threading.Interlocked.Increment(&reuses) |> ignore

/// Said by code that did its work (trained a run, computed store items, generated the corpus, predicted an ablation).
let noteWork () =
    Threading.Interlocked.Increment(&works) |> ignore

let private notes () =
    Threading.Interlocked.Read(&reuses), Threading.Interlocked.Read(&works)

/// One timed stage.
type Stage =
    {
        Name: string
        /// Seconds since the recorder started, at the stage's start.
        StartSeconds: float
        WallSeconds: float
        CpuSeconds: float
        /// 1-minute load average at the stage's start and end.
        LoadStart: float
        LoadEnd: float
        /// Share of the stage's wall time in which some runnable task waited for a CPU (Linux PSI); None where unknown.
        CpuStallShare: float option
        /// The stage only reused work done before (`noteReused`, and no `noteWork`): its time is not the work's.
        Reused: bool
    }

/// Records stages in the order they run; nested stages are recorded too, with their parent's name as a prefix.
type Recorder() =
    let started = DateTimeOffset.UtcNow
    let clock = Stopwatch.StartNew()
    let stages = ResizeArray<Stage>()
    let mutable prefix = ""
    let _, worksAtStart = notes ()

    let facts =
        Collections.Generic.SortedDictionary<string, string>(StringComparer.Ordinal)

    /// Runs `f` as the stage `name` and records it (also when `f` throws, so a failed run says where it spent time).
    member _.Time(name: string, f: unit -> 'T) : 'T =
        let full = prefix + name
        let outer = prefix
        prefix <- full + " / "
        let start = clock.Elapsed.TotalSeconds
        let cpu = cpuSeconds ()
        let load = Machine.loadAverage ()
        let stall = Machine.cpuStallMicroseconds ()
        let reusesBefore, worksBefore = notes ()

        try
            f ()
        finally
            prefix <- outer
            let wall = clock.Elapsed.TotalSeconds - start
            let reusesAfter, worksAfter = notes ()

            stages.Add
                {
                    Name = full
                    StartSeconds = start
                    WallSeconds = wall
                    CpuSeconds = cpuSeconds () - cpu
                    LoadStart = load
                    LoadEnd = Machine.loadAverage ()
                    CpuStallShare =
                        match stall, Machine.cpuStallMicroseconds () with
                        | Some a, Some b when wall > 0.0 -> Some((b - a) / 1e6 / wall)
                        | _ -> None
                    Reused = reusesAfter > reusesBefore && worksAfter = worksBefore
                }

    /// Forgets the stage `name` and the stages nested in it (an attempt that turned out not to be this process's work).
    member _.Remove(name: string) =
        stages.RemoveAll(fun s -> s.Name = prefix + name || s.Name.StartsWith(prefix + name + " / "))
        |> ignore

    /// Adds a stage measured elsewhere (another process's, read with `read`; whether that process did work is
    /// `didWork` of its file).
    member _.Add(stage: Stage) = stages.Add stage

    /// Whether any work was done (`noteWork`) since the recorder started, here or in a stage added from elsewhere.
    member _.DidWork = snd (notes ()) > worksAtStart

    /// The stages recorded so far, in the order they ended.
    member _.Stages = List.ofSeq stages

    /// Seconds since the recorder started.
    member _.Elapsed = clock.Elapsed.TotalSeconds

    /// Records a fact about how the job ran (e.g. the garbage collector of each process), a top-level field of timings.json.
    member _.Fact(key: string, value: string) = facts[key] <- value

    /// The facts recorded so far.
    member _.Facts = facts |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq

    /// When the recorder started (UTC).
    member _.Started = started

/// `m:ss` for a number of seconds.
let minutes (seconds: float) =
    let s = int (Math.Round seconds)
    $"{s / 60}:{s % 60:D2}"

/// The top-level stages (no " / " in their names): these add up to the job.
let topLevel (stages: Stage list) =
    stages |> List.filter (fun s -> not (s.Name.Contains " / "))

/// timings.json: machine, total and every stage (top-level stages first in run order, then nested ones).
let toJson (recorder: Recorder) (command: string) (commit: string) =
    let round (x: float) =
        if Double.IsNaN x then
            JsonValue.Create(null: string) :> JsonNode
        else
            JsonValue.Create(Math.Round(x, 3)) :> JsonNode

    let stageJson (s: Stage) =
        JsonObject(
            dict
                [
                    "name", JsonValue.Create s.Name :> JsonNode
                    "start_s", round s.StartSeconds
                    "wall_s", round s.WallSeconds
                    "cpu_s", round s.CpuSeconds
                    "load_start", round s.LoadStart
                    "load_end", round s.LoadEnd
                    "cpu_stall_share", round (defaultArg s.CpuStallShare nan)
                    "reused", JsonValue.Create s.Reused
                ]
        )
        :> JsonNode

    let stages = recorder.Stages |> List.sortBy (fun s -> s.StartSeconds)
    let top = topLevel stages

    JsonObject(
        dict
            [
                "created", JsonValue.Create(DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz")) :> JsonNode
                "command", JsonValue.Create command
                "commit", JsonValue.Create commit
                "cpu", JsonValue.Create(Machine.cpuModel ())
                "cores", JsonValue.Create Environment.ProcessorCount
                "did_work", JsonValue.Create recorder.DidWork
                "started_utc", JsonValue.Create(recorder.Started.ToString "O")
                "total_wall_s", round recorder.Elapsed
                "total_cpu_s", round (top |> List.sumBy (fun s -> s.CpuSeconds))
                "facts", JsonObject(dict [ for k, v in recorder.Facts -> k, JsonValue.Create v :> JsonNode ])
                "stages", JsonArray(top |> List.map stageJson |> Array.ofList)
                "nested_stages",
                JsonArray(
                    stages
                    |> List.filter (fun s -> s.Name.Contains " / ")
                    |> List.map stageJson
                    |> Array.ofList
                )
            ]
    )

/// Writes timings.json at `path` (atomically), unless this job did no work (every stage reused, e.g. tables rendered
/// again from finished runs) and `path` already holds the timings of a job that did: those are kept, with this job
/// added under "rendered_again" (when, commit, command, wall seconds). Returns whether the stages were written.
let write (path: string) (recorder: Recorder) (command: string) (commit: string) =
    let existing =
        if recorder.DidWork || not (File.Exists path) then
            None
        else
            try
                match JsonNode.Parse(File.ReadAllText path) with
                | :? JsonObject as o when not (isNull o["stages"]) -> Some o
                | _ -> None
            with :? Text.Json.JsonException ->
                None

    match existing with
    | Some o ->
        o["rendered_again"] <-
            JsonObject(
                dict
                    [
                        "created", JsonValue.Create(DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz")) :> JsonNode
                        "commit", JsonValue.Create commit
                        "command", JsonValue.Create command
                        "wall_s", JsonValue.Create(Math.Round(recorder.Elapsed, 3))
                    ]
            )

        Machine.writeJson path o
        false
    | None ->
        Machine.writeJson path (toJson recorder command commit)
        true

/// Whether the job that wrote a timings.json file did work (`Recorder.DidWork`; true for files from before the field).
let didWork (path: string) =
    match JsonNode.Parse(File.ReadAllText path)["did_work"] with
    | null -> true
    | w -> w.GetValue<bool>()

/// When the recorder of a timings file started (its `started_utc`), if it says.
let startedOf (path: string) : DateTimeOffset option =
    match JsonNode.Parse(File.ReadAllText path)["started_utc"] with
    | null -> None
    | n -> Some(DateTimeOffset.Parse(n.GetValue<string>()))

/// The stages of a timings.json file (top-level and nested), as recorded.
let read (path: string) : Stage list =
    let root = JsonNode.Parse(File.ReadAllText path)

    let number (n: JsonNode) =
        if isNull n then nan else n.GetValue<float>()

    [
        for key in [ "stages"; "nested_stages" ] do
            for s in root[key].AsArray() ->
                {
                    Name = s["name"].GetValue<string>()
                    StartSeconds = number s["start_s"]
                    WallSeconds = number s["wall_s"]
                    CpuSeconds = number s["cpu_s"]
                    LoadStart = number s["load_start"]
                    LoadEnd = number s["load_end"]
                    CpuStallShare =
                        let x = number s["cpu_stall_share"]
                        if Double.IsNaN x then None else Some x
                    Reused =
                        match s["reused"] with
                        | null -> false
                        | r -> r.GetValue<bool>()
                }
    ]

/// One line for people: total and the top-level stages, e.g. "14:32 in all: corpus 2:10, stores 1:05, ...".
let private line (total: float) (parts: (string * float) seq) =
    let parts = parts |> Seq.map (fun (name, wall) -> $"{name} {minutes wall}")
    $"""{minutes total} in all: {String.Join(", ", parts)}"""

/// The summary line of a recorder's stages so far.
let summaryLine (recorder: Recorder) =
    recorder.Stages
    |> topLevel
    |> List.sortBy (fun s -> s.StartSeconds)
    |> List.map (fun s -> s.Name, s.WallSeconds)
    |> line recorder.Elapsed

/// The summary line of a timings.json file (None when the file is absent).
let summaryOfFile (path: string) =
    if not (File.Exists path) then
        None
    else
        let root = JsonNode.Parse(File.ReadAllText path)

        root["stages"].AsArray()
        |> Seq.map (fun s -> s["name"].GetValue<string>(), s["wall_s"].GetValue<float>())
        |> line (root["total_wall_s"].GetValue<float>())
        |> Some
