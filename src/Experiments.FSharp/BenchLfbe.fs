/// The LFBE front-end benchmark: our Fbank (C#, one thread) against torchaudio's Kaldi fbank (torch.set_num_threads(1))
/// on the same WAV files in the same run, as times real time (audio seconds per second of wall clock). Writes
/// benchmarks/lfbe.json. A measurement, not a test: numbers depend on the machine and on what else runs on it.
module Research.Experiments.BenchLfbe

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open System.Text.Json
open System.Text.Json.Nodes
open Research.Model.Audio
open Research.Model.Data
open Research.Experiments.Machine

let usage =
    "usage: dotnet fsi scripts/bench-lfbe.fsx [--seconds 300] [--repeats 9] [--warmup 2] [--out benchmarks/lfbe.json] [--python /usr/bin/python3]\n"
    + "       (help: dotnet fsi scripts/bench-lfbe.fsx -- --help)"

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

/// Entry point: measures both sides, writes the JSON, prints a summary.
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        let f = Cli.parse [ "seconds"; "repeats"; "out"; "python"; "warmup" ] argv
        let root = repoRoot ()
        let seconds = f.Int("seconds", 300)
        let repeats = f.Int("repeats", 9)
        let warmup = f.Int("warmup", 2)
        let python = f.Get("python", "/usr/bin/python3")
        let out = f.Get("out", Path.Combine(root, "benchmarks", "lfbe.json"))

        if seconds < 1 || repeats < 1 || warmup < 0 then
            raise (Cli.UsageError "--seconds and --repeats must be at least 1, --warmup at least 0")

        let files =
            [ "utt1"; "utt2"; "utt3" ]
            |> List.map (fun u -> Path.Combine(root, "tests", "references", "audio", u + ".wav"))

        let waves = files |> List.map (fun p -> AudioFile.Load(p, 16000))

        let sequence =
            Seq.initInfinite (fun i -> waves[i % waves.Length])
            |> Seq.scan (fun (total, _) w -> total + w.Seconds, Some w) (0.0, None)
            |> Seq.skip 1
            |> Seq.takeWhile (fun (total, w) -> total - w.Value.Seconds < float seconds)
            |> Seq.map (fun (_, w) -> w.Value)
            |> List.ofSeq

        let audio = sequence |> List.sumBy (fun w -> w.Seconds)

        printfn
            "LFBE benchmark: %d utterances, %.1f s of audio per run, %d+ warm-up and %d timed runs per side"
            sequence.Length
            audio
            warmup
            repeats

        let load0 = loadAverage ()
        let ours = measureOurs sequence warmup repeats
        let oursWall = ours |> List.map fst
        let oursCpu = ours |> List.map snd

        let script = Path.Combine(root, "benchmarks", "torchaudio_fbank.py")

        let code, stdout, stderr =
            runProcess
                python
                ([
                    script
                    "--seconds"
                    string seconds
                    "--repeats"
                    string repeats
                    "--warmup"
                    string warmup
                 ]
                 @ files)
                root

        if code <> 0 then
            failwithf "%s %s failed (exit code %d): %s" python script code stderr

        let py = JsonNode.Parse(stdout).AsObject()
        let pyAudio = py["audio_seconds"].GetValue<float>()

        let theirs =
            py["run_seconds"].AsArray()
            |> Seq.map (fun v -> pyAudio / v.GetValue<float>())
            |> List.ofSeq

        let oursMedian, _, _ = summary oursWall
        let theirsMedian, _, _ = summary theirs

        let json =
            JsonObject(
                dict
                    [
                        "benchmark", JsonValue.Create "lfbe: 40 log mel filter-bank energies, Kaldi defaults, dither 0" :> JsonNode
                        "command", JsonValue.Create(("dotnet fsi scripts/bench-lfbe.fsx " + String.Join(" ", argv)).Trim())
                        "date", JsonValue.Create(DateTime.UtcNow.ToString "o")
                        "commit", JsonValue.Create(gitCommit root)
                        "machine",
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
                                    "warmup_runs", JsonValue.Create warmup
                                ]
                        )
                        "ours",
                        JsonObject(
                            dict
                                [
                                    "implementation",
                                    JsonValue.Create "Research.Model.Audio.Fbank.Compute (C#, single thread, double precision)" :> JsonNode
                                    "x_real_time", stats oursWall
                                    "x_real_time_by_process_cpu_time", stats oursCpu
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
                                    "x_real_time", stats theirs
                                ]
                        )
                        "ratio_of_medians", JsonValue.Create(oursMedian / theirsMedian)
                    ]
            )

        writeJson out json

        let line (name: string) (xs: float list) =
            let m, lo, hi = summary xs
            printfn "%-34s median %7.0fx real time (min %.0f, max %.0f)" name m lo hi

        line "ours (C#, 1 thread)" oursWall
        line "ours, by process CPU time" oursCpu
        line "torchaudio (1 thread)" theirs
        printfn "ratio of medians: %.1fx; wrote %s" (oursMedian / theirsMedian) out
        0
