/// `scripts/finetune.fsx`: emotion fine-tuning of the pre-trained transformer (or from scratch).
module Research.Commands.FineTune

open Research.Experiments
open Research.Commands.Cli

/// What `finetune` accepts.
let usage =
    {
        Script = "scripts/finetune.fsx"
        Synopsis = "[flags]"
        Summary = "Emotion fine-tuning of the pre-trained transformer; --set Pretrained= trains from scratch (the TF baseline)."
        Flags =
            ConfigFlags.flags (List.map fst FineTune.presets)
            @ [
                flag "ranks" "N" "1" "data-parallel processes (mpirun -np N on this machine; the global batch is kept, see docs/scaling.md)"
            ]
        Examples =
            [
                "dotnet fsi scripts/finetune.fsx"
                "dotnet fsi scripts/finetune.fsx -- --preset demo --set Pretrained= --set Budget.Steps=200"
            ]
        Notes = []
    }

/// Entry point: resolves the config and runs it; prints the test averages.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let c = ConfigFlags.resolve FineTune.presets f
    let ranks = f.Int("ranks", 1)
    let request = ConfigFlags.request f

    let c, request =
        if ranks > 1 && not (Research.Model.Runtime.Communicator.LaunchedByMpi()) then
            FineTune.launchRanks "finetune.fsx" [] ranks (ConfigFlags.runs f) request c
        else
            c, request

    let comm = Research.Model.Runtime.Communicator.FromEnvironment()

    Research.Model.Runtime.Communicator.Run(
        comm,
        fun () ->
            let r = FineTune.run (ConfigFlags.runs f) request c

            if comm.Rank = 0 then
                printfn "%s: test average WA %.4f, F1 %.4f (dataset %s)" c.Name r.Test.AverageWA r.Test.AverageF1 c.Stores

            0
    )
