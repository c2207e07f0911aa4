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
        Flags = ConfigFlags.flags (List.map fst Pretrain.presets)
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
    Pretrain.run (ConfigFlags.runs f) (ConfigFlags.request f) c |> ignore
    0
