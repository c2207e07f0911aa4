/// What every benchmark figure carries: the spread of its repetitions (median, quartiles, min, max, and every raw
/// value), and the load the machine was under while it was measured (load average, CPU pressure stall share).
module Research.Benchmarks.BenchStats

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Research.Experiments.Machine

/// A sample's order statistics. Quartiles interpolate linearly between order statistics (NumPy's default).
type Spread =
    {
        N: int
        Median: float
        Q1: float
        Q3: float
        Min: float
        Max: float
    }

    /// Interquartile range.
    member s.Iqr = s.Q3 - s.Q1

/// The q-quantile (0..1) of a sorted, non-empty array, linearly interpolated.
let quantile (sorted: float array) (q: float) =
    let position = q * float (sorted.Length - 1)
    let lo = int (floor position)
    let hi = min (lo + 1) (sorted.Length - 1)
    sorted[lo] + (position - float lo) * (sorted[hi] - sorted[lo])

/// The spread of a sample; fails naming the figure when the sample is empty or holds a non-finite value.
let spread (what: string) (xs: float list) =
    if List.isEmpty xs then
        failwithf "%s: no measurements" what

    match xs |> List.tryFind (fun x -> not (Double.IsFinite x)) with
    | Some x -> failwithf "%s: a measurement is %g" what x
    | None -> ()

    let sorted = xs |> List.sort |> Array.ofList

    {
        N = sorted.Length
        Median = quantile sorted 0.5
        Q1 = quantile sorted 0.25
        Q3 = quantile sorted 0.75
        Min = sorted[0]
        Max = sorted[sorted.Length - 1]
    }

let private number (x: float) = JsonValue.Create x :> JsonNode

/// {"median", "q1", "q3", "min", "max", "n", "runs"}: the spread and every repetition's value.
let sampleJson (what: string) (xs: float list) =
    let s = spread what xs

    JsonObject(
        dict
            [
                "median", number s.Median
                "q1", number s.Q1
                "q3", number s.Q3
                "min", number s.Min
                "max", number s.Max
                "n", JsonValue.Create s.N :> JsonNode
                "runs", JsonArray(xs |> List.map number |> Array.ofList) :> JsonNode
            ]
    )

/// The runs of a sample written by sampleJson.
let runsOf (sample: JsonNode) =
    sample["runs"].AsArray() |> Seq.map (fun v -> v.GetValue<float>()) |> List.ofSeq

/// The load the machine was under over an interval.
type Load =
    {
        LoadAverageStart: float
        LoadAverageEnd: float
        /// Share of the wall time in which some task waited for a CPU (/proc/pressure/cpu), None where not reported.
        CpuStall: float option
        Seconds: float
    }

/// Starts watching the load; Stop() gives what it was over the interval.
type LoadProbe() =
    let load0 = loadAverage ()
    let stall0 = cpuStallMicroseconds ()
    let clock = Stopwatch.StartNew()

    member _.Stop() =
        let seconds = clock.Elapsed.TotalSeconds

        {
            LoadAverageStart = load0
            LoadAverageEnd = loadAverage ()
            CpuStall =
                match stall0, cpuStallMicroseconds () with
                | Some s0, Some s1 when seconds > 0.0 -> Some((s1 - s0) / (seconds * 1e6))
                | _ -> None
            Seconds = seconds
        }

/// Runs f and returns its result with the load over it.
let underLoad (f: unit -> 'a) =
    let probe = LoadProbe()
    let result = f ()
    result, probe.Stop()

let loadJson (l: Load) =
    JsonObject(
        dict
            [
                "load_average_1m_start", number l.LoadAverageStart
                "load_average_1m_end", number l.LoadAverageEnd
                "cpu_stall_share",
                (match l.CpuStall with
                 | Some x -> number x
                 | None -> null)
                "seconds", number l.Seconds
            ]
    )

/// Resident set size and its peak (VmRSS, VmHWM of /proc/self/status) in MiB; None where not reported.
let residentMiB () =
    try
        let field (name: string) =
            File.ReadLines "/proc/self/status"
            |> Seq.tryFind (fun l -> l.StartsWith(name + ":"))
            |> Option.map (fun l ->
                let kb = l.Substring(name.Length + 1).Trim().Split(' ')[0]
                float kb / 1024.0)

        match field "VmRSS", field "VmHWM" with
        | Some rss, Some peak -> Some(rss, peak)
        | _ -> None
    with _ ->
        None

/// Resets the kernel's peak-RSS counter (VmHWM) of this process; false where the kernel does not allow it.
let resetPeakResident () =
    try
        File.WriteAllText("/proc/self/clear_refs", "5")
        true
    with _ ->
        false
