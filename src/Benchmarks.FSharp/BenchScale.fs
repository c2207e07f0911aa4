/// The scale benchmark (issue #11): training steps of the demo and paper configurations as 1 rank × 1 thread, 1 rank ×
/// 2 threads and 2 ranks × 1 thread (mpirun on loopback) with the same global batch: ms per step, all-reduce ms and
/// bytes per step, scaling efficiency; and a model of 8 and 64 ranks from the measured cost (ring all-reduce:
/// 2·(N−1)/N × bytes / bandwidth, 10 and 100 Gbit/s). `bench.fsx --parts scale` runs it into its own scale.json (the
/// other parts' results stay as they are); each layout is a child process `scripts/bench-scale.fsx` (under mpirun for
/// 2 ranks). A measurement, not a test.
module Research.Benchmarks.BenchScale

open System
open System.Diagnostics
open System.IO
open System.Text
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Runtime
open Research.Model.Training
open Research.Experiments.Machine
open Research.Benchmarks.BenchStats
open Research.Commands

/// What `bench-scale` (one layout, one configuration; under mpirun for several ranks) accepts.
let usage: Cli.Usage =
    {
        Script = "scripts/bench-scale.fsx"
        Synopsis = "--config demo|paper --out FILE [flags]"
        Summary =
            "Times training steps of one configuration in this process, or data-parallel over the ranks of mpirun (the global batch kept); rank 0 writes the times."
        Flags =
            [
                Cli.flag "config" "demo|paper" "required" "the model and batch of the step benchmark (demo: batch 16, paper: batch 8)"
                Cli.flag "out" "FILE" "required" "the JSON results (rank 0)"
                Cli.flag "steps" "N" "5" "timed steps"
                Cli.flag "warmup" "N" "1" "untimed steps first"
                Cli.flag "threads" "N" "the cores divided among the ranks" "torch threads per rank"
                Cli.flag "seed" "N" "1" "seed of the model and batch"
            ]
        Examples =
            [
                "dotnet fsi scripts/bench-scale.fsx -- --config demo --threads 2 --out /tmp/one.json"
                "mpirun -np 2 dotnet fsi scripts/bench-scale.fsx -- --config demo --threads 1 --out /tmp/two.json"
            ]
        Notes = []
    }

let private node (x: 'a) = JsonValue.Create x :> JsonNode

let private configOf (name: string) =
    match name with
    | "demo" -> BenchStep.demoConfig, BenchStep.demoShape
    | "paper" -> ModelConfig.Paper, BenchStep.paperShape
    | other -> raise (Cli.UsageError $"--config: expected demo or paper, got '{other}'")

/// One layout: times `steps` steps (after `warmup`) of the configuration on this rank's share of the global batch.
let main (argv: string array) : int =
    let f = Cli.parseUsage usage argv
    let config, shape = configOf (f.Required "config")
    let out = f.Required "out"
    let steps = f.Int("steps", 5)
    let warmup = f.Int("warmup", 1)
    let seed = f.Int("seed", 1)
    let comm = Communicator.FromEnvironment()

    Communicator.Run(
        comm,
        fun () ->
            let threads = f.Int("threads", Communicator.DefaultThreads())
            TorchRuntime.Initialize threads
            DataParallel.CheckBatch(shape.Batch, comm.Size)
            torch.manual_seed (int64 seed) |> ignore
            use model = new MultiTaskModel(config)
            let parameters = model.parameters () |> Seq.sumBy (fun p -> p.numel ())

            let step =
                TrainStep(model, MultiTaskCriterion.For(config), LearningRateSchedule(0.05, config.DModel, 4))

            if comm.Size > 1 then
                step.Distribute comm
                step.Reducer.BroadcastParameters()

            // This rank's share of the global batch: the same items' sizes, Batch / ranks of them (rank r: seed + r).
            let items =
                DataParallel.Share([| 0 .. shape.Batch - 1 |], comm.Rank, comm.Size).Length

            let struct (input, targets) =
                SyntheticBatch.Create(
                    config,
                    BatchShape(items, shape.AudioSteps, shape.VideoFrames, shape.Words, shape.Characters),
                    seed + comm.Rank,
                    torch.CPU
                )

            let stepMs = ResizeArray<float>()
            let reduceMs = ResizeArray<float>()
            let mutable bytes = 0L

            for k in 1 .. warmup + steps do
                let clock = Stopwatch.StartNew()

                if comm.Size > 1 then
                    step.RunShare(input, targets, items) |> ignore
                else
                    step.Run(input, targets) |> ignore

                let ms = clock.Elapsed.TotalMilliseconds

                if k > warmup then
                    stepMs.Add ms

                    if comm.Size > 1 then
                        reduceMs.Add step.Reducer.LastMilliseconds
                        bytes <- step.Reducer.LastBytes

            if comm.Rank = 0 then
                writeJson
                    out
                    (JsonObject(
                        dict
                            [
                                "config", node (f.Required "config")
                                "ranks", node comm.Size
                                "threads", node threads
                                "global_batch", node shape.Batch
                                "parameters", node parameters
                                "engine", node comm.Engine
                                "step_ms", sampleJson "step" (List.ofSeq stepMs)
                                "allreduce_ms",
                                (if reduceMs.Count > 0 then
                                     sampleJson "allreduce" (List.ofSeq reduceMs)
                                 else
                                     null)
                                "bytes_reduced", node bytes
                            ]
                    ))

            0
    )

/// Layouts measured: (ranks, threads per rank).
let layouts = [ 1, 1; 1, 2; 2, 1 ]

/// Ring all-reduce time of `bytes` over `ranks` ranks on a link of `gbits` Gbit/s, in ms (bandwidth term only).
let ringMs (bytes: float) (ranks: int) (gbits: float) =
    2.0 * float (ranks - 1) / float ranks * bytes * 8.0 / (gbits * 1e9) * 1000.0

/// Runs every layout of both configurations (child processes) and returns the part's JSON.
let measure (root: string) (steps: int) (warmup: int) (log: string -> unit) =
    let script = Path.Combine(root, "scripts", "bench-scale.fsx")
    let temp = Path.Combine(Path.GetTempPath(), $"bench-scale-{Guid.NewGuid():N}")
    Directory.CreateDirectory temp |> ignore

    try
        let runs = JsonArray()

        for config in [ "demo"; "paper" ] do
            for ranks, threads in layouts do
                let out = Path.Combine(temp, $"{config}-{ranks}x{threads}.json")

                let args =
                    [ "fsi"; script; "--"; "--config"; config; "--out"; out ]
                    @ [
                        "--steps"
                        string steps
                        "--warmup"
                        string warmup
                        "--threads"
                        string threads
                    ]

                log $"{config}: {ranks} rank(s) × {threads} thread(s)"

                let code =
                    if ranks = 1 then
                        use p = Process.Start(ProcessStartInfo("dotnet", args, UseShellExecute = false))
                        p.WaitForExit()
                        p.ExitCode
                    else
                        MpiLauncher.Run(ranks, "dotnet", args)

                if code <> 0 then
                    failwith $"bench-scale {config} {ranks}x{threads} failed (exit code {code})"

                runs.Add(JsonNode.Parse(File.ReadAllText out))

        JsonObject(
            dict
                [
                    "what",
                    node
                        "training steps (forward, backward, all-reduce, clipping, Adam) of the step benchmark's demo and paper configurations, same global batch, as 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (mpirun, loopback)"
                    "steps", node steps
                    "warmup", node warmup
                    "runs", runs :> JsonNode
                ]
        )
    finally
        Directory.Delete(temp, true)

let private median (n: JsonNode) = n["median"].GetValue<float>()

/// The markdown section of `scale.json`.
let render (json: JsonNode) (path: string) =
    let b = StringBuilder()
    let line (text: string) = b.AppendLine text |> ignore
    line "## 9. Scaling: data-parallel ranks (MPI)"
    line ""

    line
        $"""Generated by `{json["command"]}` from `{path}` (its own file), commit {json["commit"]}, {json["date"]}; {json["steps"]} timed steps after {json["warmup"]} warm-up per layout; load average {json["load_start"]} → {json["load_end"]}. {json["what"]}."""

    line ""

    line
        "| config | ranks × threads | global batch | ms/step (median) | all-reduce ms/step | bytes reduced/step | items/s | efficiency vs 1 × 1 | vs 1 × 2 |"

    line "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    let runs = [ for r in json["runs"].AsArray() -> r ]

    let find config ranks threads =
        runs
        |> List.find (fun r ->
            r["config"].GetValue<string>() = config
            && r["ranks"].GetValue<int>() = ranks
            && r["threads"].GetValue<int>() = threads)

    let models = ResizeArray()

    for config in [ "demo"; "paper" ] do
        let one = find config 1 1
        let two = find config 1 2
        let t1 = median one["step_ms"]
        let t12 = median two["step_ms"]

        for ranks, threads in layouts do
            let r = find config ranks threads
            let t = median r["step_ms"]
            let batch = r["global_batch"].GetValue<int>()
            let cores = ranks * threads

            let reduce, bytes =
                match r["allreduce_ms"] with
                | null -> "–", "–"
                | a -> BenchMarkdown.number (median a), $"""{float (r["bytes_reduced"].GetValue<int64>()) / 1e6:f1} MB"""

            // Efficiency: the speed-up over 1 × 1 divided by the cores used; against 1 × 2, the same 2 cores.
            let vs1 = t1 / t / float cores

            let vs12 =
                if cores = 2 then
                    BenchMarkdown.percent (Some(t12 / t))
                else
                    "–"

            line
                $"""| {config} | {ranks} × {threads} | {batch} | {BenchMarkdown.number t} | {reduce} | {bytes} | {BenchMarkdown.number (float batch / t * 1000.0)} | {BenchMarkdown.percent (Some vs1)} | {vs12} |"""

        let two = find config 2 1

        match two["allreduce_ms"] with
        | null -> ()
        | a -> models.Add(config, median two["step_ms"] - median a, float (two["bytes_reduced"].GetValue<int64>()), median a)

    line ""
    line "Efficiency vs 1 × 1: the speed-up over 1 rank × 1 thread divided by the cores used; vs 1 × 2: the speed relative"
    line "to one process with 2 threads on the same 2 cores (above 100 %: ranks beat threads)."
    line ""
    line "The all-reduce time is measured on rank 0 and includes waiting for the slower rank. Modelled N ranks (each with"
    line "the 2-rank run's per-rank batch, so the global batch grows with N): compute = the 2-rank step minus its all-reduce;"
    line "all-reduce = 2·(N−1)/N × bytes / bandwidth (ring, bandwidth term only, no overlap with backward, no latency);"
    line "efficiency = compute / (compute + all-reduce)."
    line ""

    line
        "| config | bytes/step | compute ms/step | loopback all-reduce ms (measured, 2 ranks) | link | N = 8: all-reduce ms | N = 8: efficiency | N = 64: all-reduce ms | N = 64: efficiency |"

    line "|---|---:|---:|---:|---|---:|---:|---:|---:|"

    for config, compute, bytes, measured in models do
        for gbits in [ 10.0; 100.0 ] do
            let at n = ringMs bytes n gbits
            let eff n = compute / (compute + at n)

            line
                $"""| {config} | {bytes / 1e6:f1} MB | {BenchMarkdown.number compute} | {BenchMarkdown.number measured} | {gbits:f0} Gbit/s | {BenchMarkdown.number (at 8)} | {BenchMarkdown.percent (Some(eff 8))} | {BenchMarkdown.number (at 64)} | {BenchMarkdown.percent (Some(eff 64))} |"""

    line ""
    b.ToString()
