/// The main job (README line 1). Today: prepare the demo corpus and its features, then the smoke training of the
/// paper-shaped model. Pre-training, fine-tuning, baselines and the paper's tables follow in later issues.
module Research.Experiments.Reproduce

open System
open System.IO
open Research.Model.Demo

let usage =
    "usage: dotnet fsi scripts/reproduce.fsx [--data DIR] [--corpus default|tiny] [--seed N] [--workers N] [--smoke-steps N]\n"
    + "       (help: dotnet fsi scripts/reproduce.fsx -- --help)"

/// Entry point: parses flags, prepares the data, runs the smoke training; returns the exit code.
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        let f = Cli.parse [ "data"; "corpus"; "seed"; "workers"; "smoke-steps" ] argv

        let size =
            match f.Get("corpus", "default") with
            | "default" -> DemoCorpusOptions()
            | "tiny" -> DemoCorpusOptions.Tiny
            | other -> raise (Cli.UsageError $"--corpus: unknown '{other}' (default or tiny)")

        let workers = f.Int("workers", Environment.ProcessorCount)
        let options = size.With(f.Int("seed", size.Seed), workers)

        let prepared =
            Prepare.run
                {
                    Folder = f.Get("data", Path.Combine("data", "demo"))
                    Options = options
                    Workers = workers
                }

        printfn
            "data ready: pre-training store %s; emotion stores %s"
            prepared.PretrainStore
            (String.Join(", ", prepared.EmotionStores.Values))

        let results =
            Smoke.run
                { Smoke.defaults with
                    Steps = f.Int("smoke-steps", Smoke.defaults.Steps)
                }

        if results |> List.forall (fun r -> Double.IsFinite r.Total) then
            0
        else
            1
