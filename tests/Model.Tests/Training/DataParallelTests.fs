module Research.Model.Tests.Training.DataParallelTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open Research.Model.Runtime
open Research.Model
open Research.Model.Training
open Research.Model.Tests.Training.TrainingChild

/// Largest |Δ| allowed between the weights of 2 ranks and of one process after the same steps on the same global
/// batch (float32 summation order; measured: 2.3e-6 after 12 steps, see docs/scaling.md).
let bound = 1e-5

let private tempDir name =
    let d = Path.Combine(Path.GetTempPath(), $"research-{name}-{Guid.NewGuid():N}")
    Directory.CreateDirectory d |> ignore
    d

/// `mpirun -np 2` of the test program's `--parallel-child` (on loopback), output captured.
let private startTask (task: string) (ranks: int) (dir: string) (steps: int) (dropout: float) =
    let dll = Reflection.Assembly.GetEntryAssembly().Location

    let info =
        MpiLauncher.StartInfo(ranks, "dotnet", [ dll; "--parallel-child"; dir; string steps; string dropout; task ], redirect = true)

    let p = Process.Start info
    let output = Text.StringBuilder()
    p.OutputDataReceived.Add(fun e -> lock output (fun () -> output.AppendLine e.Data |> ignore))
    p.ErrorDataReceived.Add(fun e -> lock output (fun () -> output.AppendLine e.Data |> ignore))
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p, output

let private startRanks = startTask "pretrain"

let private runTask task ranks dir steps dropout =
    let p, output = startTask task ranks dir steps dropout
    use p = p
    p.WaitForExit()
    Expect.equal p.ExitCode 0 $"mpirun -np {ranks} finished: {output}"
    use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "result.json")))
    let root = doc.RootElement

    let weights =
        [| for w in root.GetProperty("weights").EnumerateArray() -> w.GetSingle() |]

    let loss = root.GetProperty("last").GetProperty("loss").GetDouble()
    weights, loss, root.GetProperty("bestStep").GetInt64()

let private runRanks = runTask "pretrain"

/// The largest |Δ| per parameter, leaving out the attention key biases: softmax ignores a bias added to every key, so
/// their true gradient is exactly 0 and Adam (ε 1e-9) turns the float rounding noise that stands for it into steps of
/// the learning rate's size, in one process as in several; they do not change any output.
let private largestDifferenceOf (task: string) (a: float32 array) (b: float32 array) =
    let mutable offset = 0
    let mutable worst = 0.0

    for name, n in layout task do
        if not (name.EndsWith "k_proj.bias") then
            for i in offset .. offset + n - 1 do
                worst <- max worst (abs (float a[i] - float b[i]))

        offset <- offset + n

    Expect.equal offset a.Length "layout covers the weights"
    worst

let private largestDifference = largestDifferenceOf "pretrain"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Training.DataParallel"
        [
            test "shares of a global batch are disjoint and cover it; too many ranks and bucket sizes are handled" {
                let items = [| 10..16 |]
                let shares = [ for r in 0..2 -> DataParallel.Share(items, r, 3) ]
                Expect.equal shares [ [| 10; 13; 16 |]; [| 11; 14 |]; [| 12; 15 |] ] "every third item"
                Expect.equal (DataParallel.Share([| 1 |], 1, 2)) [||] "a rank may get nothing in a short last batch"

                Expect.throwsT<ArgumentException> (fun () -> DataParallel.CheckBatch(4, 5)) "more ranks than items in a batch"

                let buckets = GradientReducer.Buckets([| 3L; 3L; 10L; 1L; 1L |], 6L * 4L)
                Expect.equal (buckets |> Seq.map List.ofArray |> List.ofSeq) [ [ 0; 1 ]; [ 2 ]; [ 3; 4 ] ] "buckets"
                Expect.equal DataParallel.Silent DataParallel.Silent "one silent observer"
                let path = Environment.GetEnvironmentVariable "PATH"

                try
                    Environment.SetEnvironmentVariable("PATH", Path.GetTempPath())

                    Expect.throwsC (fun () -> MpiLauncher.Find() |> ignore) (fun e ->
                        Expect.stringContains e.Message "openmpi-bin" "a missing mpirun says what to install")
                finally
                    Environment.SetEnvironmentVariable("PATH", path)
            }

            test "ranks that disagree on config, data or model stop with an error naming the rank and the difference" {
                let config = Research.Model.Tests.Fixtures.tiny
                use model = new Research.Model.Models.MultiTaskModel(config)
                let options = TrainerOptions(Steps = 10L, BatchSize = 4)
                let source = SyntheticSource(config, 20, 0) :> IBatchSource
                let struct (c, d, m) = DataParallel.Fingerprints("{}", options, source, model)

                /// Rank 1 of 2 whose rank 0 has fingerprints `root` (its own mask is the only non-zero one).
                let rankOne (root: int64 array) =
                    { new ICommunicator with
                        member _.Rank = 1
                        member _.Size = 2
                        member _.Engine = "fake"
                        member _.AllReduceSum _ = ()

                        member _.Broadcast(buffer, _) =
                            buffer.copy_ (TorchSharp.torch.tensor root) |> ignore

                        member _.Barrier() = ()
                        member _.Abort _ = ()
                        member _.Dispose() = ()
                    }

                DataParallel.CheckAgreement(rankOne [| c; d; m |], "{}", options, source, model)

                let fails root (what: string) =
                    Expect.throwsC (fun () -> DataParallel.CheckAgreement(rankOne root, "{}", options, source, model)) (fun e ->
                        Expect.stringContains e.Message $"rank 1 differs from rank 0 in its {what}" e.Message)

                fails [| c + 1L; d; m |] "config or trainer options"
                fails [| c; d + 1L; m |] "training data"
                fails [| c; d; m + 1L |] "model parameters"

                let struct (_, otherData, _) =
                    DataParallel.Fingerprints("{}", options, SyntheticSource(config, 21, 0), model)

                Expect.notEqual otherData d "one more item changes the data fingerprint"
            }

            test "2 ranks (mpirun, loopback) reach one process's weights and metrics; a run continues with another number of ranks" {
                let single = tempDir "dp-single"
                let ranks = tempDir "dp-ranks"
                let steps = 12

                try
                    let state, weights, _ =
                        trainParallel single (int64 steps) 0.0 "pretrain" SingleProcessCommunicator.Instance

                    let parallelWeights, parallelLoss, bestStep = runRanks 2 ranks steps 0.0
                    let worst = largestDifference weights parallelWeights
                    printfn $"data-parallel: 2 ranks vs 1 process after {steps} steps, max |Δ| = {worst:e2}"
                    Expect.isLessThanOrEqual worst bound "2 ranks = 1 process (float32 summation order)"
                    Expect.isGreaterThan worst 0.0 "the comparison compares (the runs differ in summation order)"

                    Expect.floatClose { absolute = 1e-6; relative = 1e-5 } parallelLoss state.LastEvaluation["loss"] "same held-out loss"

                    Expect.equal bestStep state.BestStep "same best step"
                    // The 2-rank run's checkpoint continues in one process (the global batch is kept).
                    let continued, continuedWeights, _ =
                        trainParallel ranks (int64 steps + 4L) 0.0 "pretrain" SingleProcessCommunicator.Instance

                    let reference, referenceWeights, _ =
                        trainParallel single (int64 steps + 4L) 0.0 "pretrain" SingleProcessCommunicator.Instance

                    Expect.equal continued.Step (int64 steps + 4L) "continued 4 steps"
                    Expect.isLessThanOrEqual (largestDifference referenceWeights continuedWeights) bound "2 ranks then 1 = 1"
                    Expect.floatClose Accuracy.medium continued.LastEvaluation["loss"] reference.LastEvaluation["loss"] "metrics"
                finally
                    for d in [ single; ranks ] do
                        Directory.Delete(d, true)
            }

            test "2-rank fine-tuning (emotion head, positive weights) and the late-fusion baseline reach one process's weights" {
                for task in [ "finetune"; "late-fusion" ] do
                    let single = tempDir $"dp-{task}-single"
                    let ranks = tempDir $"dp-{task}-ranks"

                    try
                        let state, weights, _ =
                            trainParallel single 12L 0.0 task SingleProcessCommunicator.Instance

                        let parallelWeights, parallelLoss, bestStep = runTask task 2 ranks 12 0.0
                        let worst = largestDifferenceOf task weights parallelWeights
                        printfn $"data-parallel {task}: 2 ranks vs 1 process after 12 steps, max |Δ| = {worst:e2}"
                        Expect.isLessThanOrEqual worst bound $"{task}: 2 ranks = 1 process (float32 summation order)"
                        Expect.isGreaterThan worst 0.0 $"{task}: the comparison compares"

                        Expect.floatClose
                            { absolute = 1e-6; relative = 1e-5 }
                            parallelLoss
                            state.LastEvaluation["loss"]
                            $"{task}: same held-out loss"

                        Expect.equal bestStep state.BestStep $"{task}: same best step"
                    finally
                        for d in [ single; ranks ] do
                            Directory.Delete(d, true)
            }

            test "SIGKILL of one rank stops the job within seconds naming it; the rerun resumes and ends as an uninterrupted run" {
                let reference = tempDir "dp-kill-ref"
                let killed = tempDir "dp-kill"
                let steps = 40

                try
                    let referenceWeights, referenceLoss, _ = runRanks 2 reference steps 0.1
                    let p, output = startRanks 2 killed steps 0.1
                    use p = p
                    let checkpoint = Path.Combine(killed, "checkpoint.bin")
                    let pid = Path.Combine(killed, "rank-1.pid")
                    let clock = Stopwatch.StartNew()

                    while not p.HasExited
                          && not (File.Exists checkpoint && File.Exists pid)
                          && clock.Elapsed < TimeSpan.FromSeconds 60.0 do
                        Threading.Thread.Sleep 20

                    Expect.isFalse p.HasExited $"still training when a checkpoint exists: {output}"
                    Threading.Thread.Sleep 150
                    use victim = Process.GetProcessById(int (File.ReadAllText pid))
                    victim.Kill()
                    let killedAt = Stopwatch.StartNew()
                    let stopped = p.WaitForExit 20000

                    if not stopped then
                        p.Kill true

                    Expect.isTrue stopped "mpirun ended after one rank was killed (no hang)"
                    printfn $"data-parallel: the job stopped {killedAt.Elapsed.TotalSeconds:f1} s after rank 1 was killed"
                    Expect.isLessThan killedAt.Elapsed.TotalSeconds 10.0 "within seconds"
                    Expect.notEqual p.ExitCode 0 "a failed job"
                    let text = lock output (fun () -> output.ToString())
                    Expect.stringContains text "rank 1" $"the message names the rank: {text}"
                    Expect.isFalse (File.Exists(Path.Combine(killed, "result.json"))) "killed before the end"
                    let resumedWeights, resumedLoss, _ = runRanks 2 killed steps 0.1
                    Expect.equal resumedWeights referenceWeights "resumed run, same weights"
                    Expect.equal resumedLoss referenceLoss "resumed run, same metrics"
                finally
                    for d in [ reference; killed ] do
                        Directory.Delete(d, true)
            }
        ]
