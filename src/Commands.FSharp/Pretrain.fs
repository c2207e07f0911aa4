/// `scripts/pretrain.fsx`: multi-task pre-training (ASR + speaker identification) of one configuration.
module Research.Commands.Pretrain

open Research.Experiments
open Research.Commands.Cli

/// What `pretrain` accepts.
let usage =
    {
        Script = "scripts/pretrain.fsx"
        Synopsis = "[flags]"
        Summary = "Multi-task pre-training (ASR + speaker identification) of the transformer encoder."
        Flags =
            ConfigFlags.flags (List.map fst Pretrain.presets)
            @ [
                flag "ranks" "N" "1" "data-parallel processes (mpirun -np N on this machine; the global batch is kept, see docs/scaling.md)"
            ]
        Examples =
            [
                "dotnet fsi scripts/pretrain.fsx"
                "dotnet fsi scripts/pretrain.fsx -- --preset demo --set Budget.Steps=500 --set Model.DModel=64"
            ]
        Notes = []
    }

/// Entry point: resolves the config and runs it.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let c = ConfigFlags.resolve Pretrain.presets f
    let ranks = f.Int("ranks", 1)
    let request = ConfigFlags.request f

    let c, request =
        if ranks > 1 && not (Research.Model.Runtime.Communicator.LaunchedByMpi()) then
            Pretrain.launchRanks ranks (ConfigFlags.runs f) request c
        else
            c, request

    Research.Model.Runtime.Communicator.Run(
        Research.Model.Runtime.Communicator.FromEnvironment(),
        fun () ->
            Pretrain.run (ConfigFlags.runs f) request c |> ignore
            0
    )
