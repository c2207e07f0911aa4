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

    let name, result =
        match f.Required "model" with
        | "late-fusion" ->
            let c = ConfigFlags.resolve [ "demo", demoLateFusion; "paper", paperLateFusion ] f

            c.Name, Baseline.runLateFusion runs (ConfigFlags.request f) c
        | "transformer" ->
            let c =
                ConfigFlags.resolve [ "demo", scratch demoFineTuning; "paper", scratch paperFineTuning ] f

            c.Name, FineTune.run runs (ConfigFlags.request f) c
        | other -> raise (UsageError $"--model: expected late-fusion or transformer, got '{other}'")

    printfn "%s: test average WA %.4f, F1 %.4f" name result.Test.AverageWA result.Test.AverageF1
    0
