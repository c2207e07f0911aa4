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
            test "a block that allocates little runs without a collection; outside blocks the churn collects" {
                let overruns = CollectionGuard.Overruns

                let collectionsDuring =
                    CollectionGuard.Run(fun () ->
                        let before = GC.CollectionCount 0
                        churn (1 <<< 20)
                        GC.CollectionCount 0 - before)

                Expect.equal collectionsDuring 0 "no gen0 collection inside the block"
                Expect.equal CollectionGuard.Overruns overruns "no overrun"
                let before = GC.CollectionCount 0
                churn (256 <<< 20)
                Expect.isGreaterThan (GC.CollectionCount 0 - before) 0 "256 MiB of churn outside a block collects"
            }

            test "finalizers of earlier garbage have run when the block starts" {
                let flag = ref 0
                dropFinalizable flag
                let seen = CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents))
                Expect.equal seen 1 "the dropped object was finalized before the block"
            }

            test "RESEARCH_COLLECTION_GUARD=gen0: gen0 before each block, all generations once every FullEvery blocks" {
                let saved = CollectionGuard.Generation

                try
                    CollectionGuard.Generation <- 0
                    let gen0 = GC.CollectionCount 0
                    let gen2 = GC.CollectionCount 2

                    for _ in 1 .. 2 * CollectionGuard.FullEvery do
                        CollectionGuard.Run(fun () -> ())

                    Expect.isGreaterThanOrEqual (GC.CollectionCount 0 - gen0) (2 * CollectionGuard.FullEvery) "one collection per block"
                    Expect.equal (GC.CollectionCount 2 - gen2) 2 "a full collection every FullEvery blocks, no more"
                    CollectionGuard.Generation <- 2
                    let gen2 = GC.CollectionCount 2

                    for _ in 1..10 do
                        CollectionGuard.Run(fun () -> ())

                    Expect.equal (GC.CollectionCount 2 - gen2) 10 "the default: a full collection per block"
                finally
                    CollectionGuard.Generation <- saved
            }

            test "a nested block does not collect again" {
                // The inner block does not collect again: a finalizable object dropped inside the outer block is still
                // waiting when the inner block runs.
                let flag = ref 0

                let seen =
                    CollectionGuard.Run(fun () ->
                        dropFinalizable flag
                        CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents)))

                Expect.equal seen 0 "no collection for the nested block"
                let after = CollectionGuard.Run(fun () -> Volatile.Read(&flag.contents))
                Expect.equal after 1 "the next outer block collects"
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
