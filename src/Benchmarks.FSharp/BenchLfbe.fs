/// The LFBE front-end benchmark: our Fbank (C#, one thread) against torchaudio's Kaldi fbank (torch.set_num_threads(1))
/// on the same WAV files in the same run, as times real time (audio seconds per second of wall clock). Writes
/// benchmarks/lfbe.json. A measurement, not a test: numbers depend on the machine and on what else runs on it.
module Research.Benchmarks.BenchLfbe

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open System.Text.Json
open System.Text.Json.Nodes
open Research.Model.Audio
open Research.Model.Data
open Research.Experiments.Machine
open Research.Commands

/// What `bench-lfbe` accepts.
let usage: Cli.Usage =
    {
        Script = "scripts/bench-lfbe.fsx"
        Synopsis = "[flags]"
        Summary = "Speed of the LFBE front end: our Fbank (C#, one thread) against torchaudio's Kaldi fbank (one thread), same run."
        Flags =
            [
                Cli.flag "seconds" "S" "300" "seconds of audio per repetition (the reference utterances, repeated)"
                Cli.flag "repeats" "N" "9" "timed repetitions per side"
                Cli.flag "warmup" "N" "2" "untimed repetitions first (and at least 2 s)"
                Cli.flag "out" "FILE" "benchmarks/lfbe.json" "the results file"
                Cli.flag "python" "PATH" "/usr/bin/python3" "the Python with torchaudio"
            ]
        Examples =
            [
                "dotnet fsi scripts/bench-lfbe.fsx"
                "dotnet fsi scripts/bench-lfbe.fsx -- --seconds 30 --repeats 3 --out /tmp/lfbe.json"
            ]
        Notes = []
    }

/// Our side: x real time (wall clock, and process CPU time) of each run over the utterance sequence, after
/// `warmup` runs and at least 2 s of warm-up (so the JIT's tiered compilation has settled).
let measureOurs (sequence: Waveform list) (warmup: int) (repeats: int) =
    let seconds = sequence |> List.sumBy (fun w -> w.Seconds)

    let run () =
        let cpu = Process.GetCurrentProcess().TotalProcessorTime
        let clock = Stopwatch.StartNew()

        for w in sequence do
            Fbank.Compute(w.Samples, w.SampleRate) |> ignore

        let wall = clock.Elapsed.TotalSeconds
        seconds / wall, seconds / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds

    let clock = Stopwatch.StartNew()
    let mutable runs = 0

    while runs < warmup || clock.Elapsed.TotalSeconds < 2.0 do
        run () |> ignore
        runs <- runs + 1

    List.init repeats (fun _ -> run ())

/// What the benchmark measures with.
type Settings =
    {
        /// Audio seconds per run (the three test utterances cycled).
        Seconds: int
        Repeats: int
        Warmup: int
        Python: string
    }

/// Measures both sides on the same utterance sequence; returns the JSON record (every run's figure) and prints a
/// summary. One thread each: ours is single-threaded C#, torchaudio runs under torch.set_num_threads(1).
let measure (root: string) (settings: Settings) : JsonObject =
    let files =
        [ "utt1"; "utt2"; "utt3" ]
        |> List.map (fun u -> Path.Combine(root, "tests", "references", "audio", u + ".wav"))

    let waves = files |> List.map (fun p -> AudioFile.Load(p, 16000))

    let sequence =
        Seq.initInfinite (fun i -> waves[i % waves.Length])
        |> Seq.scan (fun (total, _) w -> total + w.Seconds, Some w) (0.0, None)
        |> Seq.skip 1
        |> Seq.takeWhile (fun (total, w) -> total - w.Value.Seconds < float settings.Seconds)
        |> Seq.map (fun (_, w) -> w.Value)
        |> List.ofSeq

    let audio = sequence |> List.sumBy (fun w -> w.Seconds)

    printfn
        "LFBE benchmark: %d utterances, %.1f s of audio per run, %d+ warm-up and %d timed runs per side"
        sequence.Length
        audio
        settings.Warmup
        settings.Repeats

    let ours, oursLoad =
        BenchStats.underLoad (fun () -> measureOurs sequence settings.Warmup settings.Repeats)

    let oursWall = ours |> List.map fst
    let oursCpu = ours |> List.map snd

    let script = Path.Combine(root, "benchmarks", "torchaudio_fbank.py")

    let (code, stdout, stderr), theirsLoad =
        BenchStats.underLoad (fun () ->
            runProcess
                settings.Python
                ([
                    script
                    "--seconds"
                    string settings.Seconds
                    "--repeats"
                    string settings.Repeats
                    "--warmup"
                    string settings.Warmup
                 ]
                 @ files)
                root)

    if code <> 0 then
        failwithf "%s %s failed (exit code %d): %s" settings.Python script code stderr

    let py = JsonNode.Parse(stdout).AsObject()
    let pyAudio = py["audio_seconds"].GetValue<float>()

    let theirs =
        py["run_seconds"].AsArray()
        |> Seq.map (fun v -> pyAudio / v.GetValue<float>())
        |> List.ofSeq

    let oursMedian, _, _ = summary oursWall
    let theirsMedian, _, _ = summary theirs

    let line (name: string) (xs: float list) =
        let m, lo, hi = summary xs
        printfn "%-34s median %7.0fx real time (min %.0f, max %.0f)" name m lo hi

    line "ours (C#, 1 thread)" oursWall
    line "ours, by process CPU time" oursCpu
    line "torchaudio (1 thread)" theirs
    printfn "ratio of medians: %.1fx" (oursMedian / theirsMedian)

    JsonObject(
        dict
            [
                "benchmark", JsonValue.Create "lfbe: 40 log mel filter-bank energies, Kaldi defaults, dither 0" :> JsonNode
                "audio",
                JsonObject(
                    dict
                        [
                            "files",
                            JsonArray(
                                files
                                |> List.map (fun p -> JsonValue.Create(Path.GetRelativePath(root, p)) :> JsonNode)
                                |> Array.ofList
                            )
                            :> JsonNode
                            "utterances_per_run", JsonValue.Create sequence.Length
                            "seconds_per_run", JsonValue.Create audio
                            "warmup_runs", JsonValue.Create settings.Warmup
                        ]
                )
                "ours",
                JsonObject(
                    dict
                        [
                            "implementation",
                            JsonValue.Create "Research.Model.Audio.Fbank.Compute (C#, single thread, double precision)" :> JsonNode
                            "x_real_time", BenchStats.sampleJson "LFBE ours" oursWall
                            "x_real_time_by_process_cpu_time", BenchStats.sampleJson "LFBE ours (CPU time)" oursCpu
                            "load", BenchStats.loadJson oursLoad
                        ]
                )
                "torchaudio",
                JsonObject(
                    dict
                        [
                            "implementation",
                            JsonValue.Create(
                                $"""torchaudio.compliance.kaldi.fbank {py["torchaudio"]} on torch {py["torch"]}, {py["threads"]} thread, float32"""
                            )
                            :> JsonNode
                            "x_real_time", BenchStats.sampleJson "LFBE torchaudio" theirs
                            "load", BenchStats.loadJson theirsLoad
                        ]
                )
                "ratio_of_medians", JsonValue.Create(oursMedian / theirsMedian)
            ]
    )

/// Entry point: measures both sides, writes the JSON, prints a summary.
let main (argv: string array) : int =
    let f = Cli.parseUsage usage argv
    let root = repoRoot ()

    let settings =
        {
            Seconds = f.Int("seconds", 300)
            Repeats = f.Int("repeats", 9)
            Warmup = f.Int("warmup", 2)
            Python = f.Get("python", "/usr/bin/python3")
        }

    let out = f.Get("out", Path.Combine(root, "benchmarks", "lfbe.json"))

    if settings.Seconds < 1 || settings.Repeats < 1 || settings.Warmup < 0 then
        raise (Cli.UsageError "--seconds and --repeats must be at least 1, --warmup at least 0")

    let load0 = loadAverage ()
    let json = measure root settings
    json["command"] <- JsonValue.Create(("dotnet fsi scripts/bench-lfbe.fsx " + String.Join(" ", argv)).Trim())
    json["date"] <- JsonValue.Create(DateTime.UtcNow.ToString "o")
    json["commit"] <- JsonValue.Create(gitCommit root)

    json["machine"] <-
        JsonObject(
            dict
                [
                    "cpu", JsonValue.Create(cpuModel ()) :> JsonNode
                    "logical_cores", JsonValue.Create Environment.ProcessorCount
                    "os", JsonValue.Create RuntimeInformation.OSDescription
                    "dotnet", JsonValue.Create RuntimeInformation.FrameworkDescription
                    "load_average_1m_before", JsonValue.Create load0
                    "load_average_1m_after", JsonValue.Create(loadAverage ())
                ]
        )

    writeJson out json
    printfn "wrote %s" out
    0
