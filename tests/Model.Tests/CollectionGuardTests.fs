module Research.Model.Tests.CollectionGuardTests

open System
open System.Runtime.CompilerServices
open System.Threading
open Expecto
open TorchSharp
open Research.Model

/// Sets a flag when finalized.
type private Finalizable(flag: int ref) =
    override _.Finalize() = Volatile.Write(&flag.contents, 1)

[<MethodImpl(MethodImplOptions.NoInlining)>]
let private dropFinalizable (flag: int ref) = Finalizable flag |> ignore

/// Allocates `bytes` of short-lived garbage in 8 KiB arrays.
let private churn (bytes: int) =
    let mutable keep = null

    for _ in 1 .. bytes / 8192 do
        keep <- Array.zeroCreate<byte> 8192

    GC.KeepAlive keep

[<Tests>]
let tests =
    testList
        "CollectionGuard"
        [
            test "no collection happens inside a block, whichever thread allocates" {
                // 16 MiB of garbage from this thread and 16 MiB from another inside the block; the same kind of churn
                // outside a block collects (checked below with 256 MiB, beyond any gen0 budget).
                let overruns = CollectionGuard.Overruns

                let collectionsDuring =
                    CollectionGuard.Run(fun () ->
                        let before = GC.CollectionCount 0
                        churn (16 <<< 20)
                        let other = Thread(fun () -> churn (16 <<< 20))
                        other.Start()
                        other.Join()
                        GC.CollectionCount 0 - before)

                Expect.equal collectionsDuring 0 "no gen0 collection inside the block"
                Expect.equal CollectionGuard.Overruns overruns "no overrun"
                let before = GC.CollectionCount 0
                churn (256 <<< 20)
                Expect.isGreaterThan (GC.CollectionCount 0 - before) 0 "the same churn unguarded collects"
            }

            test "finalizers of earlier garbage have run when the block starts" {
                let flag = ref 0
                dropFinalizable flag
                let seen = CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents))
                Expect.equal seen 1 "the dropped object was finalized before the block"
            }

            test "nested blocks run inside the outer one" {
                let inner =
                    CollectionGuard.Run(fun () -> CollectionGuard.Run(fun () -> Runtime.GCSettings.LatencyMode))

                Expect.equal inner Runtime.GCLatencyMode.NoGCRegion "the inner block runs in the outer region"

                Expect.notEqual Runtime.GCSettings.LatencyMode Runtime.GCLatencyMode.NoGCRegion "the region ends with the outer block"
            }

            test "training steps of the demo-sized model stay within the budget" {
                // TrainStep guards itself: a step that allocated more than the budget would count an overrun.
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
                let overruns = CollectionGuard.Overruns
                let blocks = CollectionGuard.Blocks

                for seed in 1..3 do
                    use _ = torch.NewDisposeScope()

                    let struct (input, targets) =
                        SyntheticBatch.Create(config, BatchShape(8, 40, 20, 8, 30), seed, torch.CPU)

                    let r = step.Run(input, targets)
                    Expect.isTrue (Double.IsFinite r.Total) "finite loss"

                Expect.equal (CollectionGuard.Blocks - blocks) 3L "one block per step"
                Expect.equal CollectionGuard.Overruns overruns "no step overran the budget"
            }
        ]
