module Research.Model.Tests.Training.TrainerTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Training
open Research.Model.Tests
open Research.Model.Tests.Training.TrainingChild
open Research.Model.Models

let private runChild (dir: string) =
    let dll = Reflection.Assembly.GetEntryAssembly().Location

    let info =
        ProcessStartInfo("dotnet", [ dll; "--train-child"; dir ], UseShellExecute = false, RedirectStandardOutput = true)

    Process.Start info

let private tempDir name =
    let d = Path.Combine(Path.GetTempPath(), $"research-{name}-{Guid.NewGuid():N}")
    Directory.CreateDirectory d |> ignore
    d

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Training.Trainer"
        [
            test "each epoch visits every item once, batches group similar lengths, and the order is deterministic" {
                let lengths = [| for i in 0..202 -> int64 ((i * 37) % 91) |]
                let a = LengthBucketSampler(lengths, 8, 3)
                let b = LengthBucketSampler(lengths, 8, 3)
                Expect.equal a.BatchesPerEpoch 26 "ceil(203 / 8)"

                for epoch in 0..2 do
                    let batches = a.Epoch epoch
                    Expect.equal (batches |> Seq.concat |> Seq.sort |> List.ofSeq) [ 0..202 ] $"epoch {epoch} covers all once"

                    Expect.equal
                        (b.Epoch epoch |> Seq.map List.ofArray |> List.ofSeq)
                        (batches |> Seq.map List.ofArray |> List.ofSeq)
                        "same seed, same batches"

                Expect.notEqual
                    (a.Epoch 0 |> Seq.map List.ofArray |> List.ofSeq)
                    (a.Epoch 1 |> Seq.map List.ofArray |> List.ofSeq)
                    "epochs differ"

                let spread (batch: int array) =
                    let ls = batch |> Array.map (fun i -> lengths[i])
                    Array.max ls - Array.min ls

                let mean = a.Epoch 0 |> Seq.averageBy (spread >> float)
                Expect.isLessThan mean 15.0 "lengths within a batch are close (random batches would spread ~70)"
                Expect.equal (a.Position 27L) (1, 0) "step 27 is the first batch of epoch 1"
                Expect.throws (fun () -> LengthBucketSampler([| 1L; 2L |], 8, 1) |> ignore) "fewer items than a batch"
            }

            test "edit distance" {
                let ids (s: string) = [| for c in s -> int64 c |]
                Expect.equal (EditDistance.Between(ids "kitten", ids "sitting")) 3 "kitten/sitting"
                Expect.equal (EditDistance.Between(ids "abc", ids "")) 3 "all deleted"
                Expect.equal (EditDistance.Between(ids "", ids "ab")) 2 "all inserted"
                Expect.equal (EditDistance.Between(ids "same", ids "same")) 0 "equal"
            }

            test "the same seed gives the same run, and a run continued from its checkpoint ends where an uninterrupted one does" {
                let a = tempDir "train-a"
                let b = tempDir "train-b"
                let c = tempDir "train-c"

                try
                    let stateA, hashA = train a 20L silent
                    let stateB, hashB = train b 20L silent
                    Expect.equal hashB hashA "same seed, same weights"
                    Expect.equal (stateB.LastEvaluation["loss"]) (stateA.LastEvaluation["loss"]) "same metrics"
                    let _ = train c 9L silent // stops after the checkpoint of step 9
                    let stateC, hashC = train c 20L silent
                    Expect.equal hashC hashA "continued run, same weights"
                    Expect.equal (stateC.LastEvaluation["loss"]) (stateA.LastEvaluation["loss"]) "continued run, same metrics"
                    Expect.equal (stateC.BestStep, stateC.BestScore) (stateA.BestStep, stateA.BestScore) "same best model"
                finally
                    for d in [ a; b; c ] do
                        Directory.Delete(d, true)
            }

            test "a run killed with SIGKILL at random moments and restarted finishes with the same result" {
                let reference = tempDir "kill-ref"
                let killed = tempDir "kill"

                try
                    use p = runChild reference
                    p.WaitForExit()
                    Expect.equal p.ExitCode 0 "uninterrupted child"
                    let rng = Random 17
                    let mutable kills = 0
                    let mutable finished = false
                    let mutable attempts = 0

                    while not finished && attempts < 30 do
                        attempts <- attempts + 1
                        use child = runChild killed
                        let checkpoint = Path.Combine(killed, "checkpoint.bin")

                        let before =
                            if File.Exists checkpoint then
                                File.GetLastWriteTimeUtc checkpoint
                            else
                                DateTime.MinValue
                        // Wait until the child has written a new checkpoint (it is training), then kill it a random
                        // moment later: mid-step, mid-evaluation or mid-checkpoint.
                        let mutable training = false

                        while kills < 4 && not training && not child.HasExited do
                            Threading.Thread.Sleep 20
                            training <- File.Exists checkpoint && File.GetLastWriteTimeUtc checkpoint > before

                        if training && not (child.WaitForExit(rng.Next 500)) then
                            child.Kill true
                            child.WaitForExit()
                            kills <- kills + 1
                        else
                            child.WaitForExit()
                            finished <- child.ExitCode = 0 && File.Exists(Path.Combine(killed, "result.json"))

                    Expect.isTrue finished "the killed run finished after restarts"
                    Expect.isGreaterThan kills 0 "it was killed at least once"

                    Expect.equal
                        (File.ReadAllText(Path.Combine(killed, "result.json")))
                        (File.ReadAllText(Path.Combine(reference, "result.json")))
                        "same steps, best model, metrics and weights"

                    Expect.isEmpty (Directory.GetFiles(killed, "*.tmp")) "no temporary files left"
                finally
                    Directory.Delete(reference, true)
                    Directory.Delete(killed, true)
            }

            test "a non-finite loss stops the run naming the step and the batch, and keeps the last checkpoint" {
                let dir = tempDir "nan"

                try
                    let config = Fixtures.tiny
                    torch.manual_seed 1L |> ignore
                    use model = new MultiTaskModel(config)

                    let step =
                        TrainStep(model, MultiTaskCriterion(config.Tasks), LearningRateSchedule(0.5, config.DModel, 10))

                    let checkpoint = Path.Combine(dir, "checkpoint.bin")

                    let options =
                        TrainerOptions(Steps = 6, BatchSize = 37, CheckpointEvery = 1, Seed = 5)

                    let poisoned = SyntheticSource(config, 37, 0, 12)

                    let e =
                        Expect.throwsT<TrainingDivergedException>
                            (fun () ->
                                Trainer.Run(step, model, poisoned, torch.CPU, options, checkpoint, "{}", null, null, null, silent)
                                |> ignore)
                            "diverges"

                    ()

                    let error =
                        try
                            Trainer.Run(step, model, poisoned, torch.CPU, options, checkpoint, "{}", null, null, null, silent)
                            |> ignore

                            ""
                        with :? TrainingDivergedException as x ->
                            x.Message

                    Expect.stringContains error "step 1" "names the step"
                    Expect.stringContains error "item12" "names the batch's items"
                    Expect.isFalse (File.Exists checkpoint) "no checkpoint written from a diverged step"
                finally
                    Directory.Delete(dir, true)
            }

            test "a checkpoint from another configuration, or a truncated one, is refused with a clear error" {
                let dir = tempDir "ckpt"

                try
                    let _ = train dir 3L silent
                    let checkpoint = Path.Combine(dir, "checkpoint.bin")
                    use model = new MultiTaskModel(Fixtures.tiny)

                    let step =
                        TrainStep(model, MultiTaskCriterion(Fixtures.tiny.Tasks), LearningRateSchedule(1.0, 16, 10))

                    Expect.throwsC
                        (fun () ->
                            Checkpoint.Load(checkpoint, model, step.Optimizer, """{"run":"other"}""")
                            |> ignore)
                        (fun e -> Expect.stringContains e.Message "differs in: run" "names the key")

                    use bigger =
                        new MultiTaskModel(Fixtures.tinyWith TaskWeights.Pretraining (ModalityWeights(1.0, 0.0, 0.0)))

                    Expect.throwsC (fun () -> Checkpoint.Load(checkpoint, bigger, null, null) |> ignore) (fun e ->
                        Expect.stringContains e.Message "do not fit the model" "weights mismatch")

                    let bytes = File.ReadAllBytes checkpoint
                    let cut = Path.Combine(dir, "cut.bin")
                    File.WriteAllBytes(cut, bytes[..20])

                    Expect.throwsC (fun () -> Checkpoint.ReadState cut |> ignore) (fun e ->
                        Expect.stringContains e.Message "truncated" "truncated")
                finally
                    Directory.Delete(dir, true)
            }
        ]
