module Research.Model.Tests.CollectionGuardTests

open System
open System.Runtime.CompilerServices
open System.Threading
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Models
open Research.Model.Modules
open Research.Model.Runtime
open Research.Model.Training

/// Sets a flag when finalized.
type private Finalizable(flag: int ref) =
    override _.Finalize() = Volatile.Write(&flag.contents, 1)

[<MethodImpl(MethodImplOptions.NoInlining)>]
let private dropFinalizable (flag: int ref) = Finalizable flag |> ignore

/// What one crash probe saw: the first failure's message (None: no op failed), blocks run, gate closings, seconds.
type ProbeResult =
    {
        Failure: string option
        Blocks: int
        Closings: int64
        Seconds: float
    }

/// Runs `masked_fill(mask, 0.0)` (an implicit TorchSharp Scalar per call) in blocks of 10, guarded or not, for
/// `seconds` and at least `minBlocks` blocks (at most 60 s), while another thread allocates and collects gen0 without
/// pause; stops at the first failure.
let crashProbe (guarded: bool) (seconds: float) (minBlocks: int) : ProbeResult =
    use x = torch.randn (256L, 256L)
    use mask = x.gt (torch.tensor 0.0f)
    let stop = ref 0
    let closings = CollectionGuard.Closings

    let guard (block: unit -> unit) =
        if guarded then CollectionGuard.Run block else block ()

    let collector =
        Thread(
            (fun () ->
                while Volatile.Read(&stop.contents) = 0 do
                    Array.zeroCreate<byte> 4096 |> ignore
                    GC.Collect 0),
            IsBackground = true
        )

    collector.Start()
    let clock = Diagnostics.Stopwatch.StartNew()
    let mutable failure = None
    let mutable blocks = 0

    try
        while failure.IsNone
              && (clock.Elapsed.TotalSeconds < seconds || blocks < minBlocks)
              && clock.Elapsed < TimeSpan.FromSeconds 60.0 do
            blocks <- blocks + 1

            try
                guard (fun () ->
                    for _ in 1..10 do
                        use scope = torch.NewDisposeScope()
                        x.masked_fill (mask, 0.0) |> ignore)
            with e ->
                failure <- Some(e.Message.Split('\n')[0])
    finally
        Volatile.Write(&stop.contents, 1)
        collector.Join()
        CollectionGuard.Open()

    {
        Failure = failure
        Blocks = blocks
        Closings = CollectionGuard.Closings - closings
        Seconds = clock.Elapsed.TotalSeconds
    }

/// `Model.Tests.dll --crash-probe guarded|unguarded SECONDS MIN-BLOCKS`: the probe in this fresh process, its result
/// as JSON on stdout.
let probeChild (mode: string) (seconds: string) (minBlocks: string) =
    let r = crashProbe (mode = "guarded") (float seconds) (int minBlocks)
    printfn "%s" (Text.Json.JsonSerializer.Serialize r)
    0

/// The probe in a fresh process: its heap small and no earlier test's state, so that the collecting thread does not
/// slow the blocks to a crawl (in the whole suite's heap each gen0 collection costs far more, and a probe there ran a
/// few blocks a second: too few calls to meet the hazard in its time).
let private probeInChild (guarded: bool) (seconds: float) (minBlocks: int) =
    let dll = Reflection.Assembly.GetEntryAssembly().Location

    let args =
        [
            dll
            "--crash-probe"
            (if guarded then "guarded" else "unguarded")
            string seconds
            string minBlocks
        ]

    let info =
        Diagnostics.ProcessStartInfo("dotnet", args, UseShellExecute = false, RedirectStandardOutput = true)

    use p = Diagnostics.Process.Start info
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 $"the probe's process exited with {p.ExitCode}: {out}"
    let last = out.Trim().Split('\n') |> Array.last
    let r = Text.Json.JsonSerializer.Deserialize<ProbeResult> last

    printfn
        "crash probe (%s): %d blocks in %.1f s, %d gate closings, %s"
        (if guarded then "guarded" else "unguarded")
        r.Blocks
        r.Seconds
        r.Closings
        (defaultArg r.Failure "no failure")

    r

[<Tests>]
let tests =
    testList
        "CollectionGuard"
        [
            test "the crash probe: unguarded, the finalizer frees TorchSharp's scalars under libtorch's feet" {
                // The control that shows the probe finds the hazard (so the guarded probe below can fail): with no
                // guard, masked_fill(mask, 0.0) beside a collecting thread fails within seconds.
                let r = probeInChild false 30.0 0
                Expect.isSome r.Failure $"the unguarded probe failed ({r.Blocks} blocks in {r.Seconds:F1} s)"
            }

            test "the crash probe: guarded blocks survive a thread that collects without pause" {
                let r = probeInChild true 4.0 (3 * CollectionGuard.OpenEvery + 1)
                Expect.isNone r.Failure "no guarded op failed"
                Expect.isGreaterThanOrEqual r.Blocks (3 * CollectionGuard.OpenEvery + 1) "blocks enough for 3 gate periods"
                Expect.isGreaterThan r.Closings 2L "the gate opened and closed again between blocks"
            }

            test "no finalizer runs inside a block, whatever collects; they run once the gate opens" {
                let flag = ref 0

                let seen =
                    CollectionGuard.Run(fun () ->
                        dropFinalizable flag
                        let collector = Thread(fun () -> GC.Collect())
                        collector.Start()
                        collector.Join()
                        GC.Collect()
                        Thread.Sleep 200
                        Volatile.Read(&flag.contents))

                Expect.equal seen 0 "not finalized inside the block"
                CollectionGuard.Open()
                Expect.equal (Volatile.Read(&flag.contents)) 1 "finalized once the gate opened"
                Expect.isFalse CollectionGuard.GateClosed "open"
            }

            test "the gate opens by itself when no block has run for a while" {
                let flag = ref 0

                CollectionGuard.Run(fun () -> dropFinalizable flag)
                GC.Collect()
                Expect.isTrue CollectionGuard.GateClosed "closed after a block"
                let clock = Diagnostics.Stopwatch.StartNew()

                while Volatile.Read(&flag.contents) = 0 && clock.Elapsed < TimeSpan.FromSeconds 10.0 do
                    GC.Collect()
                    Thread.Sleep 100

                Expect.equal (Volatile.Read(&flag.contents)) 1 "finalized after the idle time"
                Expect.isLessThan clock.Elapsed (CollectionGuard.IdleOpen * 3.0) "within a few idle periods"
            }

            test "the gate opens between blocks every OpenEvery blocks" {
                CollectionGuard.Open()
                let closings = CollectionGuard.Closings

                for _ in 1 .. 3 * CollectionGuard.OpenEvery do
                    CollectionGuard.Run(fun () -> ())

                Expect.equal (CollectionGuard.Closings - closings) 3L "closed once per OpenEvery blocks"
            }

            test "RESEARCH_COLLECTION_GUARD=full: a full collection with finalizers drained before each block" {
                let saved = CollectionGuard.Mode

                try
                    CollectionGuard.Mode <- GuardMode.FullCollection
                    let flag = ref 0
                    dropFinalizable flag
                    let gen2 = GC.CollectionCount 2
                    let seen = CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents))

                    for _ in 1..9 do
                        CollectionGuard.Run(fun () -> ())

                    Expect.equal seen 1 "the dropped object was finalized before the block"
                    Expect.equal (GC.CollectionCount 2 - gen2) 10 "a full collection per block"
                finally
                    CollectionGuard.Mode <- saved
            }

            test "a nested block runs inside its outer block's guard" {
                let flag = ref 0

                let seen =
                    CollectionGuard.Run(fun () ->
                        dropFinalizable flag
                        GC.Collect()
                        CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents)))

                Expect.equal seen 0 "no finalizer ran for the nested block"
                Expect.throws (fun () -> CollectionGuard.Run(fun () -> CollectionGuard.Open())) "Open inside a block"
                CollectionGuard.Open()
                Expect.equal (Volatile.Read(&flag.contents)) 1 "finalized once open"
            }

            test "training steps of the demo-sized model run guarded, one block each" {
                let config =
                    ModelConfig(
                        DModel = 128,
                        Heads = 4,
                        FeedForward = 256,
                        AudioLayers = 2,
                        CrossModalLayers = 2,
                        DecoderLayers = 1,
                        VideoDim = 64,
                        Speakers = 10
                    )

                torch.manual_seed 3L |> ignore
                use model = new MultiTaskModel(config)
                let criterion = MultiTaskCriterion(config.Tasks, config.LabelSmoothing)
                let step = TrainStep(model, criterion, LearningRateSchedule(1.0, 128, 10))
                let blocks = CollectionGuard.Blocks

                for seed in 1..3 do
                    use _ = torch.NewDisposeScope()

                    let struct (input, targets) =
                        SyntheticBatch.Create(config, BatchShape(8, 40, 20, 8, 30), seed, torch.CPU)

                    let r = step.Run(input, targets)
                    Expect.isTrue (Double.IsFinite r.Total) "finite loss"

                Expect.equal (CollectionGuard.Blocks - blocks) 3L "one block per step"
            }
        ]
