module Research.Model.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    Research.Model.Runtime.TorchRuntime.Initialize()

    match argv with
    | [| "--train-child"; dir |] -> Research.Model.Tests.Training.TrainingChild.main dir
    | [| "--parallel-child"; dir; steps; dropout; task |] ->
        Research.Model.Tests.Training.TrainingChild.parallelMain dir (int64 steps) (float dropout) task
    | [| "--hold-run"; dir |] -> Research.Model.Tests.Faults.FaultTests.holdRun dir
    | [| "--mapped-child"; mib |] ->
        printfn "%b" (Research.Model.Tests.TorchRuntimeTests.mapped (int64 mib <<< 20))
        0
    | [| "--mkl-child" |] ->
        printfn "%d" (Research.Model.Runtime.TorchRuntime.MklVendorCheckAnswer())
        0
    | [| "--crash-probe"; mode; seconds; minBlocks |] -> Research.Model.Tests.CollectionGuardTests.probeChild mode seconds minBlocks
    | [| "--write-child"; dir |] -> Research.Model.Tests.Faults.FaultTests.writeForever dir
    | _ ->
        // Sequenced: tests share torch's global state (seed, threads), and two cores gain nothing from parallel tests.
        runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
