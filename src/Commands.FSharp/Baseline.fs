/// `scripts/baseline.fsx`: the paper's baselines, late fusion of per-modality BiGRUs or the transformer from scratch.
module Research.Commands.Baseline

open Research.Experiments
open Research.Experiments.Config
open Research.Commands.Cli

let private models = [ "late-fusion"; "transformer" ]

/// What `baseline` accepts.
let usage =
    {
        Script = "scripts/baseline.fsx"
        Synopsis = "--model late-fusion|transformer [flags]"
        Summary = "The paper's baselines: late fusion of per-modality BiGRUs, or the transformer trained from scratch."
        Flags =
            flag "model" (String.concat "|" models) "required" "which baseline"
            :: ConfigFlags.flags [ "demo"; "paper" ]
            @ [
                flag "ranks" "N" "1" "data-parallel processes (mpirun -np N on this machine; the global batch is kept, see docs/scaling.md)"
            ]
        Examples =
            [
                "dotnet fsi scripts/baseline.fsx -- --model late-fusion"
                "dotnet fsi scripts/baseline.fsx -- --model transformer --preset demo --set Budget.Steps=200"
            ]
        Notes = []
    }

/// Entry point: --model late-fusion or transformer (from scratch).
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let runs = ConfigFlags.runs f
    let ranks = f.Int("ranks", 1)
    let launch = ranks > 1 && not (Research.Model.Runtime.Communicator.LaunchedByMpi())
    let request = ConfigFlags.request f

    // The configuration is resolved (and the ranks launched) before MPI starts in this process.
    let train: unit -> string * FineTune.Result =
        match f.Required "model" with
        | "late-fusion" ->
            let c = ConfigFlags.resolve [ "demo", demoLateFusion; "paper", paperLateFusion ] f

            let c, request =
                if launch then
                    Baseline.launchLateFusion ranks runs request c
                else
                    c, request

            fun () -> c.Name, Baseline.runLateFusion runs request c
        | "transformer" ->
            let c =
                ConfigFlags.resolve [ "demo", scratch demoFineTuning; "paper", scratch paperFineTuning ] f

            let c, request =
                if launch then
                    FineTune.launchRanks "baseline.fsx" [ "--model"; "transformer" ] ranks runs request c
                else
                    c, request

            fun () -> c.Name, FineTune.run runs request c
        | other -> raise (UsageError $"--model: expected late-fusion or transformer, got '{other}'")

    let comm = Research.Model.Runtime.Communicator.FromEnvironment()

    Research.Model.Runtime.Communicator.Run(
        comm,
        fun () ->
            let name, result = train ()

            if comm.Rank = 0 then
                printfn "%s: test average WA %.4f, F1 %.4f" name result.Test.AverageWA result.Test.AverageF1

            0
    )
