/// What benchmarks record about the run: the repository, the machine, and small statistics of repeated timings.
module Research.Experiments.Machine

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open System.Text.Json
open System.Text.Json.Nodes
open Research.Model.Data

type private Marker = class end

/// The repository root: the first folder above this assembly (or the current folder) holding Research.sln.
let repoRoot () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then
            None
        elif File.Exists(Path.Combine(dir.FullName, "Research.sln")) then
            Some dir.FullName
        else
            up dir.Parent

    [
        Path.GetDirectoryName(typeof<Marker>.Assembly.Location)
        Environment.CurrentDirectory
    ]
    |> List.tryPick (fun d -> up (DirectoryInfo d))
    |> Option.defaultWith (fun () -> failwith "no Research.sln above the library or the current folder")

/// Median, min and max of a sample.
let summary (xs: float list) =
    let sorted = List.sort xs
    let n = sorted.Length

    let median =
        if n % 2 = 1 then
            sorted[n / 2]
        else
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0

    median, List.head sorted, List.last sorted

/// {"median", "min", "max", "runs"} of a sample.
let stats (xs: float list) =
    let median, lo, hi = summary xs

    JsonObject(
        dict
            [
                "median", JsonValue.Create median :> JsonNode
                "min", JsonValue.Create lo
                "max", JsonValue.Create hi
                "runs", JsonArray(xs |> List.map (fun x -> JsonValue.Create x :> JsonNode) |> Array.ofList)
            ]
    )

/// Runs a program to its end; returns exit code, standard output and standard error (trimmed).
let runProcess (program: string) (args: string list) (cwd: string) =
    let info =
        ProcessStartInfo(program, args, WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true)

    use p = Process.Start info
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, out.Trim(), err.Result.Trim()

/// The commit checked out in the repository, marked when tracked files have uncommitted changes.
let gitCommit (root: string) =
    let _, commit, _ = runProcess "git" [ "rev-parse"; "HEAD" ] root

    let _, dirty, _ =
        runProcess "git" [ "status"; "--porcelain"; "--untracked-files=no" ] root

    commit + (if dirty = "" then "" else " (uncommitted changes)")

/// The CPU's model name from /proc/cpuinfo (the architecture elsewhere).
let cpuModel () =
    try
        File.ReadLines "/proc/cpuinfo"
        |> Seq.tryFind (fun l -> l.StartsWith "model name")
        |> Option.map (fun l -> (l.Split(':', 2)[1]).Trim())
        |> Option.defaultValue (string RuntimeInformation.ProcessArchitecture)
    with _ ->
        (string RuntimeInformation.ProcessArchitecture)

/// The 1-minute load average (NaN where /proc/loadavg is absent).
let loadAverage () =
    try
        (File.ReadAllText "/proc/loadavg").Split(' ')[0] |> float
    with _ ->
        nan

/// Microseconds, since boot, in which some runnable task waited for a CPU (Linux pressure stall information,
/// /proc/pressure/cpu "some total"); None where the kernel does not report it. Its growth over an interval, divided
/// by the interval, says how contended the CPUs were.
let cpuStallMicroseconds () =
    try
        File.ReadLines "/proc/pressure/cpu"
        |> Seq.tryFind (fun l -> l.StartsWith "some ")
        |> Option.bind (fun l ->
            l.Split(' ')
            |> Array.tryFind (fun kv -> kv.StartsWith "total=")
            |> Option.map (fun kv -> float (kv.Substring 6)))
    with _ ->
        None

/// Writes a JSON document atomically, creating its folder.
let writeJson (path: string) (json: JsonNode) =
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path))
    |> ignore

    AtomicFile.Write(
        path,
        fun stream ->
            use w = new Utf8JsonWriter(stream, JsonWriterOptions(Indented = true))
            json.WriteTo w
    )
