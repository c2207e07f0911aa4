module Research.Model.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    Research.Model.TorchRuntime.Initialize()
    runTestsInAssemblyWithCLIArgs [] argv
