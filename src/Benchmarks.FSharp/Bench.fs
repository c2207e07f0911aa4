/// The benchmark harness (issue #6): one command runs eight parts and writes every repetition's raw numbers to
/// benchmarks/results.json, then BENCHMARKS.md from that file (BenchMarkdown.render). Parts:
///   ceiling    fp32 matmul GFLOP/s, sampled before and after the other parts and after every timed training step
///   step       training step (forward, backward, Adam) of the paper and demo configurations at two batch sizes, and
///              the late-fusion baseline: ms per step, analytic FLOPs, achieved fraction of the ceiling (BenchStep)
///   inference  embedding extraction × real time per modality subset (BenchInference)
///   extraction embedding extraction over a whole store (reading included) at batch 1 and 16: items/s, × real time
///   frontend   LFBE × real time on one thread against torchaudio's Kaldi fbank (BenchLfbe)
///   memory     RSS over 2,000 training steps (BenchMemory)
///   reference  the same model in PyTorch: agreement of outputs and gradients, and the step-time ratio (BenchReference)
///   profile    where the step's time goes (BenchProfile)
///   faults     every reader fed 1,000 mutated inputs (Fuzz); written to its own benchmarks/faults.json and figure, and
///              section 8 of BENCHMARKS.md, so it can run alone without touching the other parts' results
/// A measurement, not a test: figures depend on the machine and its load, which is recorded next to each of them.
module Research.Benchmarks.Bench

open System
open System.IO
open System.Runtime.InteropServices
open System.Text.Json.Nodes
open TorchSharp
open Research.Model
open Research.Model.Training
open Research.Model.Models
open Research.Model.Runtime
open Research.Experiments.Machine
open Research.Benchmarks.BenchStats
open Research.Commands

/// The default parts (about 10 minutes on 2 cores).
let allParts =
    [
        "ceiling"
        "step"
        "inference"
        "extraction"
        "frontend"
        "memory"
        "reference"
        "profile"
        "faults"
    ]

/// Parts run only when named: the main job end to end (its own time, ~15-25 minutes); data-parallel scaling (its
/// own scale.json, BenchScale).
let extraParts = [ "pipeline"; "scale" ]

/// What `bench` accepts.
let usage: Cli.Usage =
    {
        Script = "scripts/bench.fsx"
        Synopsis = "[flags]"
        Summary =
            "The benchmark harness: matmul ceiling, training step, inference, LFBE front end, memory, the same model in PyTorch, a profile, fuzzed readers."
        Flags =
            [
                Cli.switch "quick" "a fast check of every part (few repetitions, demo sizes where possible); writes to benchmarks/quick/"
                Cli.switch "report-only" "regenerate the Markdown from an existing results file"
                Cli.flag
                    "parts"
                    "A,B,..."
                    (String.Join(",", allParts))
                    $"""the parts to run; also {String.Join(", ", extraParts)} (the main job on the demo data, runs/ empty, stage timings; steps on 1 and 2 ranks, --repeats timed steps, into its own scale.json)"""
                Cli.flag "repeats" "N" "each part's own" "timed repetitions (overrides every part's)"
                Cli.flag "memory-steps" "N" "2000 (--quick: 300)" "training steps of the memory part"
                Cli.flag "threads" "N" "2 (at most the cores)" "torch threads"
                Cli.flag "seed" "N" "1" "seed of the models and batches (and of the fuzzed inputs)"
                Cli.flag "fuzz-cases" "N" "1000 (--quick: 100)" "mutated inputs per reader of the faults part"
                Cli.flag "python" "PATH" "/usr/bin/python3" "the Python with torch and torchaudio"
                Cli.flag "out" "FILE" "benchmarks/results.json (--quick: benchmarks/quick/results.json)" "the results file"
                Cli.flag "markdown" "FILE" "BENCHMARKS.md (--quick: benchmarks/quick/BENCHMARKS.md)" "the report"
            ]
        Examples =
            [
                "dotnet fsi scripts/bench.fsx"
                "dotnet fsi scripts/bench.fsx -- --quick --parts step,profile"
                "dotnet fsi scripts/bench.fsx -- --report-only"
                "dotnet fsi scripts/bench.fsx -- --parts faults"
            ]
        Notes = []
    }

/// How much each part measures.
type Settings =
    {
        Quick: bool
        Parts: string list
        Threads: int
        Seed: int
        Python: string
        CeilingRepeats: int
        Step: BenchStep.Timing
        /// Which BenchStep cases run.
        StepCases: BenchStep.Case list
        Inference: BenchInference.Timing
        Lfbe: BenchLfbe.Settings
        MemorySteps: int
        MemoryEvery: int
        /// Configurations the reference part compares and times.
        ReferenceSubjects: BenchReference.Subject list
        ReferenceTiming: BenchStep.Timing
        Profile: BenchProfile.Timing
        ProfileSubjects: BenchReference.Subject list
        /// Mutated inputs per reader of the faults part.
        FuzzCases: int
    }

let paper: BenchReference.Subject =
    {
        Name = "paper"
        Config = ModelConfig.Paper
        Shape = BenchStep.paperShape
    }

let demo: BenchReference.Subject =
    {
        Name = "demo"
        Config = BenchStep.demoConfig
        Shape = BenchStep.demoShape
    }

/// The demo subject of the PyTorch reference, which has no CTC head: the same model without it.
let demoWithoutCtc: BenchReference.Subject =
    { demo with
        Config = demo.Config.WithCtcWeight(0.0)
    }

/// The full run's settings (about 10 minutes on 2 cores), or the quick check's.
let settingsFor (quick: bool) (python: string) (threads: int) (seed: int) (repeats: int option) =
    let r full fast =
        repeats |> Option.defaultValue (if quick then fast else full)

    {
        Quick = quick
        Parts = allParts
        Threads = threads
        Seed = seed
        Python = python
        CeilingRepeats = r 10 3
        Step =
            {
                Warmup = (if quick then 1 else 2)
                MinSteps = r 7 2
                MinSeconds = (if quick then 0.0 else 3.0)
                MaxSteps = (if quick then r 7 2 else 40)
            }
        StepCases =
            (if quick then
                 BenchStep.cases |> List.filter (fun c -> c.Config = "demo")
             else
                 BenchStep.cases)
            @ (if threads > 1 then BenchStep.oneThreadCases else [])
        Inference =
            {
                Warmup = (if quick then 1 else 2)
                Repeats = r 9 3
            }
        Lfbe =
            {
                Seconds = (if quick then 30 else 300)
                Repeats = r 9 3
                Warmup = (if quick then 1 else 2)
                Python = python
            }
        MemorySteps = (if quick then 300 else 2000)
        MemoryEvery = (if quick then 50 else 20)
        ReferenceSubjects =
            (if quick then
                 [ demoWithoutCtc ]
             else
                 [ paper; demoWithoutCtc ])
        ReferenceTiming =
            {
                Warmup = (if quick then 1 else 2)
                MinSteps = r 7 2
                MinSeconds = 0.0
                MaxSteps = r 7 2
            }
        Profile =
            {
                Warmup = (if quick then 1 else 2)
                Repeats = r 7 2
            }
        ProfileSubjects = (if quick then [ demo ] else [ paper; demo ])
        FuzzCases = (if quick then 100 else 1000)
    }

/// Total memory of the machine in GiB (/proc/meminfo), NaN where not reported.
let memoryGiB () =
    try
        File.ReadLines "/proc/meminfo"
        |> Seq.find (fun l -> l.StartsWith "MemTotal:")
        |> fun l -> float (l.Substring(9).Trim().Split(' ')[0]) / 1024.0 / 1024.0
    with _ ->
        nan

/// The operating system's name (/etc/os-release), else what .NET reports.
let osName () =
    try
        File.ReadLines "/etc/os-release"
        |> Seq.find (fun l -> l.StartsWith "PRETTY_NAME=")
        |> fun l -> l.Substring(12).Trim('"')
    with _ ->
        RuntimeInformation.OSDescription

let private node (x: 'a) = JsonValue.Create x :> JsonNode

let machineJson (threads: int) =
    let packages = RunInfo.PackageVersions()

    JsonObject(
        dict
            [
                "cpu", node (cpuModel ())
                "logical_cores", node Environment.ProcessorCount
                "memory_gib", node (memoryGiB ())
                "os", node (osName ())
                "kernel", node RuntimeInformation.OSDescription
                "dotnet", node RuntimeInformation.FrameworkDescription
                "torchsharp", node packages["TorchSharp"]
                "libtorch", node packages["libtorch"]
                "threads", node threads
            ]
    )

/// Writes a UTF-8 text file atomically, creating its folder.
let writeText (path: string) (text: string) =
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path))
    |> ignore

    Research.Model.Data.AtomicFile.Write(
        path,
        fun stream ->
            use w = new StreamWriter(stream, Text.UTF8Encoding(false), 1 <<< 16, true)
            w.Write text
    )

/// Runs one part, recording its load and time; a failure is recorded as {"error": message} and reported at the end.
let private runPart (name: string) (results: JsonObject) (save: unit -> unit) (f: unit -> JsonNode) =
    printfn ""
    printfn "== %s ==" name
    let probe = LoadProbe()

    let record =
        try
            let data = f ()
            let load = probe.Stop()
            JsonObject(dict [ "data", data; "load", loadJson load :> JsonNode ])
        with e ->
            let load = probe.Stop()
            eprintfn "part %s failed: %s" name e.Message

            JsonObject(
                dict
                    [
                        "error", node $"{e.GetType().Name}: {e.Message}"
                        "load", loadJson load :> JsonNode
                    ]
            )

    results[name] <- record
    save ()
    record.ContainsKey "error" |> not

let private ceilingPart (settings: Settings) (ceiling: BenchStep.Ceiling) (before: float list) (after: float list) (paired: float list) =
    let all = before @ after @ paired
    let s = spread "ceiling" all

    printfn
        "matmul %dx%d fp32, %d threads: median %.0f GFLOP/s (IQR %.0f-%.0f) over %d samples"
        ceiling.N
        ceiling.N
        settings.Threads
        s.Median
        s.Q1
        s.Q3
        s.N

    JsonObject(
        dict
            [
                "what", node $"{ceiling.N}x{ceiling.N} fp32 matmul (torch.matmul), {settings.Threads} threads, GFLOP/s = 2n^3 / time"
                "gflops_before_parts", sampleJson "ceiling" before :> JsonNode
                "gflops_after_parts", sampleJson "ceiling" after
                "gflops_paired_with_steps",
                (if paired.IsEmpty then
                     null
                 else
                     sampleJson "ceiling" paired :> JsonNode)
                "gflops_all", sampleJson "ceiling" all
            ]
    )

/// The faults part: fuzzes every reader, writes `faults.json` next to the results file and its figure (HTML, and PNG
/// when Chromium is there); returns whether every case passed.
let private faultsPart (settings: Settings) (argv: string array) (out: string) =
    let root = repoRoot ()
    let started = DateTime.UtcNow
    let timeout = TimeSpan.FromSeconds 10.0
    printfn ""
    printfn "== faults: %d mutated inputs per reader ==" settings.FuzzCases
    let reports = Fuzz.run settings.FuzzCases settings.Seed timeout []
    let folder = Path.GetDirectoryName(Path.GetFullPath out)
    let path = Path.Combine(folder, "faults.json")

    let json =
        JsonObject(
            dict
                [
                    "what", node "issue #13: mutated inputs of every reader, counted by outcome class"
                    "command", node (("dotnet fsi scripts/bench.fsx " + String.Join(" ", argv)).Trim())
                    "date", node (started.ToString "o")
                    "commit", node (gitCommit root)
                    "seconds", node (DateTime.UtcNow - started).TotalSeconds
                    "seed", node settings.Seed
                    "cases_per_reader", node settings.FuzzCases
                    "timeout_s", node timeout.TotalSeconds
                    "kinds", node (String.Join(", ", Fuzz.kinds))
                    "readers", JsonArray([| for r in reports -> Fuzz.reportJson r :> JsonNode |]) :> JsonNode
                ]
        )

    writeJson path json
    let html = Path.Combine(folder, "faults.html")
    Research.Experiments.Plots.save (Fuzz.chart reports) html

    if Research.Experiments.Plots.png html (Path.ChangeExtension(html, ".png")) then
        printfn "wrote %s, %s and its PNG" path html

    reports |> List.forall (fun r -> r.Holes.IsEmpty)

/// The scale part: every layout of BenchScale as child processes, written to `scale.json` next to the results file.
let private scalePart (settings: Settings) (argv: string array) (out: string) =
    let root = repoRoot ()
    let started = DateTime.UtcNow
    let load = loadAverage ()
    let steps = if settings.Quick then 2 else settings.Step.MinSteps
    printfn ""
    printfn "== scale: %d timed steps per layout ==" steps
    let json = BenchScale.measure root steps 1 (printfn "scale: %s")
    json["command"] <- node (("dotnet fsi scripts/bench.fsx " + String.Join(" ", argv)).Trim())
    json["date"] <- node (started.ToString "o")
    json["commit"] <- node (gitCommit root)
    json["seconds"] <- node (DateTime.UtcNow - started).TotalSeconds
    json["load_start"] <- node load
    json["load_end"] <- node (loadAverage ())
    json["machine"] <- machineJson settings.Threads :> JsonNode
    let path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath out), "scale.json")
    writeJson path json
    printfn "wrote %s" path

/// BENCHMARKS.md: the parts of the results file, then the faults section when `faults.json` is next to it, then the
/// scale section when `scale.json` is.
let markdownOf (root: string) (out: string) (json: JsonNode) =
    let folder = Path.GetDirectoryName(Path.GetFullPath out)
    let faults = Path.Combine(folder, "faults.json")
    let png = Path.Combine(folder, "faults.png")

    let main =
        match json with
        | null -> "# Benchmarks\n\n_No results file yet: run `dotnet fsi scripts/bench.fsx`._\n\n"
        | j -> BenchMarkdown.render j (Path.GetRelativePath(root, out))

    if File.Exists faults then
        let figure =
            if File.Exists png then
                Some(Path.GetRelativePath(root, png).Replace('\\', '/'))
            else
                None

        main
        + BenchMarkdown.renderFaults (JsonNode.Parse(File.ReadAllText faults)) (Path.GetRelativePath(root, faults)) figure
    else
        main
    |> fun text ->
        let scale = Path.Combine(folder, "scale.json")

        if File.Exists scale then
            text
            + "\n"
            + BenchScale.render (JsonNode.Parse(File.ReadAllText scale)) (Path.GetRelativePath(root, scale))
        else
            text

/// Runs the selected parts; writes results.json after each part and BENCHMARKS.md at the end. Returns the exit code.
let private runParts (settings: Settings) (argv: string array) (out: string) (markdown: string) =
    let root = repoRoot ()
    TorchRuntime.Initialize settings.Threads
    let probe = LoadProbe()
    let started = DateTime.UtcNow
    let commit = gitCommit root
    let parts = JsonObject()

    let header () =
        JsonObject(
            dict
                [
                    "benchmark", node "issue #6: ceiling, training step, inference, front end, memory, PyTorch reference, profile"
                    "command", node (("dotnet fsi scripts/bench.fsx " + String.Join(" ", argv)).Trim())
                    "mode", node (if settings.Quick then "quick" else "full")
                    "parts_selected", JsonArray(settings.Parts |> List.map node |> Array.ofList) :> JsonNode
                    "date", node (started.ToString "o")
                    "commit", node commit
                    "machine", machineJson settings.Threads :> JsonNode
                    "seed", node settings.Seed
                ]
        )

    let save () =
        let json = header ()
        json["seconds"] <- node (DateTime.UtcNow - started).TotalSeconds
        json["parts"] <- parts.DeepClone()
        writeJson out json

    let wants part = List.contains part settings.Parts

    use ceiling = new BenchStep.Ceiling(2048)
    let paired = ResizeArray<float>()

    let before = List.init settings.CeilingRepeats (fun _ -> ceiling.Sample())

    let mutable ok = true
    let part name f = ok <- runPart name parts save f && ok

    // Memory first, while the process holds nothing else: RSS and its peak are process-wide.
    if wants "memory" then
        part "memory" (fun () -> BenchMemory.measure demo.Config demo.Shape settings.MemorySteps settings.MemoryEvery settings.Seed)

    if wants "step" then
        part "training_step" (fun () ->
            let measured =
                [
                    for case in settings.StepCases ->
                        let m = BenchStep.measure case settings.Step settings.Seed ceiling
                        paired.AddRange m.PairedCeiling
                        let s = spread "ms" m.Milliseconds
                        let share = spread "fraction" (BenchStep.fractions m)

                        printfn
                            "  %-12s %-5s batch %2d: %7.0f ms/step (IQR %.0f-%.0f), %.0f %% of the paired ceiling"
                            case.Model
                            case.Config
                            case.Shape.Batch
                            s.Median
                            s.Q1
                            s.Q3
                            (100.0 * share.Median)

                        BenchStep.caseJson m :> JsonNode
                ]

            JsonObject(
                dict
                    [
                        "what",
                        node
                            "training step (forward, loss, backward, clip, Adam) via TrainStep on a SyntheticBatch, fp32; FLOPs = 2 x multiply-adds of matrix products, step = 3 x forward"
                        "timing",
                        JsonObject(
                            dict
                                [
                                    "warmup_steps", node settings.Step.Warmup
                                    "min_timed_steps", node settings.Step.MinSteps
                                    "min_timed_seconds", node settings.Step.MinSeconds
                                    "max_timed_steps", node settings.Step.MaxSteps
                                ]
                        )
                        :> JsonNode
                        "cases", JsonArray(Array.ofList measured)
                    ]
            ))

    if wants "inference" then
        part "inference" (fun () ->
            JsonArray(
                [|
                    for s in [ paper; demo ] -> BenchInference.measure s.Name s.Config s.Shape settings.Inference settings.Seed :> JsonNode
                |]
            ))

    if wants "extraction" then
        part "extraction" (fun () ->
            let count = if settings.Quick then 48 else 240

            BenchInference.measureStore demo.Name demo.Config count [ 1; 16 ] settings.Inference.Repeats settings.Seed :> JsonNode)

    if wants "frontend" then
        part "front_end" (fun () -> BenchLfbe.measure root settings.Lfbe)

    if wants "reference" then
        part "pytorch_reference" (fun () ->
            let r: BenchReference.Settings =
                {
                    Python = settings.Python
                    Threads = settings.Threads
                    Seed = settings.Seed
                    Timing = settings.ReferenceTiming
                    PythonSteps = settings.ReferenceTiming.MinSteps
                }

            JsonArray(
                [|
                    for s in settings.ReferenceSubjects -> BenchReference.runSubject root r ceiling s :> JsonNode
                |]
            ))

    if wants "profile" then
        part "profile" (fun () ->
            JsonArray(
                [|
                    for s in settings.ProfileSubjects ->
                        BenchProfile.profile s.Name s.Config s.Shape settings.Profile settings.Seed :> JsonNode
                |]
            ))

    if wants "faults" then
        ok <- faultsPart settings argv out && ok

    // The main job last: the other parts measured before it, on a machine it has not yet warmed or filled.
    if wants "pipeline" then
        part "pipeline" (fun () -> BenchPipeline.measure root ceiling settings.CeilingRepeats)

    if wants "scale" then
        scalePart settings argv out

    let after = List.init settings.CeilingRepeats (fun _ -> ceiling.Sample())

    if wants "ceiling" then
        part "ceiling" (fun () -> ceilingPart settings ceiling before after (List.ofSeq paired))

    let load = probe.Stop()
    let json = header ()
    json["seconds"] <- node load.Seconds
    json["load"] <- loadJson load
    json["parts"] <- parts.DeepClone()
    writeJson out json
    writeText markdown (markdownOf root out json)

    printfn ""
    printfn "wrote %s and %s in %.0f s (CPU stall %s of the run)" out markdown load.Seconds (BenchMarkdown.percent load.CpuStall)

    if ok then 0 else 1

/// Runs the selected parts (see runParts); the faults part alone writes only its own file and section, leaving the
/// other parts' results as they are. Returns the exit code.
let run (settings: Settings) (argv: string array) (out: string) (markdown: string) =
    if settings.Parts = [ "scale" ] then
        scalePart settings argv out
        let root = repoRoot ()

        let existing =
            if File.Exists out then
                JsonNode.Parse(File.ReadAllText out)
            else
                null

        writeText markdown (markdownOf root out existing)
        printfn "wrote %s" markdown
        0
    elif settings.Parts = [ "faults" ] then
        TorchRuntime.Initialize settings.Threads
        let clean = faultsPart settings argv out
        let root = repoRoot ()

        let existing =
            if File.Exists out then
                JsonNode.Parse(File.ReadAllText out)
            else
                null

        writeText markdown (markdownOf root out existing)
        printfn "wrote %s" markdown
        if clean then 0 else 1
    else
        runParts settings argv out markdown

/// Entry point.
let main (argv: string array) : int =

    let f = Cli.parseUsage usage argv
    let quick = f.Has "quick"
    let reportOnly = f.Has "report-only"

    let root = repoRoot ()

    let folder =
        if quick then
            Path.Combine(root, "benchmarks", "quick")
        else
            root

    let out =
        f.Get("out", Path.Combine((if quick then folder else Path.Combine(root, "benchmarks")), "results.json"))

    let markdown = f.Get("markdown", Path.Combine(folder, "BENCHMARKS.md"))

    if reportOnly then
        if not (File.Exists out) then
            raise (Cli.UsageError $"--report-only: no results file {out}")

        let json = JsonNode.Parse(File.ReadAllText out)

        writeText markdown (markdownOf root out json)

        printfn "wrote %s from %s" markdown out
        0
    else
        let threads = f.Int("threads", min 2 Environment.ProcessorCount)

        let repeats =
            match f.Values.TryFind "repeats" with
            | Some _ -> Some(f.Int("repeats", 0))
            | None -> None

        if repeats |> Option.exists (fun r -> r < 1) then
            raise (Cli.UsageError "--repeats must be at least 1")

        let parts =
            match f.Values.TryFind "parts" with
            | None -> allParts
            | Some p ->
                let chosen =
                    p.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
                    |> List.ofArray

                let known = allParts @ extraParts

                match chosen |> List.filter (fun c -> not (List.contains c known)) with
                | [] -> chosen
                | unknown -> raise (Cli.UsageError($"""--parts: unknown {String.Join(", ", unknown)}; known: {String.Join(",", known)}"""))

        let settings =
            { settingsFor quick (f.Get("python", "/usr/bin/python3")) threads (f.Int("seed", 1)) repeats with
                Parts = parts
                MemorySteps = f.Int("memory-steps", (if quick then 300 else 2000))
                FuzzCases = f.Int("fuzz-cases", (if quick then 100 else 1000))
            }

        if settings.MemorySteps < BenchMemory.baselineStep then
            raise (Cli.UsageError $"--memory-steps must be at least {BenchMemory.baselineStep}")

        printfn "benchmarks (%s): %s; %d threads; results -> %s" (if quick then "quick" else "full") (String.Join(", ", parts)) threads out

        run settings argv out markdown
