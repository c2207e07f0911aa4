/// Entry points the scripts call by name (scripts/Research.fsx loads this assembly in its own context).
namespace Research.Experiments

open System

type Entry =
    /// Runs the named command with its arguments; usage errors print the message and exit with 2.
    static member Run(command: string, argv: string array) : int =
        let commands =
            Map
                [
                    "reproduce", (Reproduce.main, Reproduce.usage)
                    "smoke", (Smoke.main, Smoke.usage)
                    "pretrain", (Pretrain.main, Pretrain.usage)
                    "finetune", (FineTune.main, FineTune.usage)
                    "baseline", (Baseline.main, Baseline.usage)
                    "mosei", (Mosei.main, Mosei.usage)
                    "voxceleb", (VoxCeleb.main, VoxCeleb.usage)
                    "features", (Features.main, Features.usage)
                    "bench-lfbe", (BenchLfbe.main, BenchLfbe.usage)
                    "evaluate", (Evaluate.main, Evaluate.usage)
                    "bench-step", (BenchStep.main, BenchStep.usage)
                    "embed", (Embed.main, Embed.usage)
                    "bench", (Bench.main, Bench.usage)
                ]

        match commands |> Map.tryFind command with
        | None ->
            eprintfn "unknown command '%s' (known: %s)" command (String.Join(", ", commands.Keys))
            2
        | Some(main, usage) ->
            try
                main argv
            with Cli.UsageError message ->
                eprintfn "%s\n%s" message usage
                2
