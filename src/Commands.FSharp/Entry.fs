/// The commands the scripts run by name (scripts/Research.fsx loads this assembly in its own context).
namespace Research.Commands

open Research.Commands.Cli

type Entry =
    /// Every command, by the name the scripts use.
    static member Commands: Command list =
        [
            command "reproduce" Reproduce.usage Reproduce.main
            command "sweep" Sweep.usage Sweep.main
            command "pretrain" Pretrain.usage Pretrain.main
            command "finetune" FineTune.usage FineTune.main
            command "baseline" Baseline.usage Baseline.main
            command "evaluate" Evaluate.usage Evaluate.main
            command "embed" Embed.usage Embed.main
            command "features" Features.usage Features.main
            command "mosei" Mosei.usage Mosei.main
            command "voxceleb" VoxCeleb.usage VoxCeleb.main
            command "screenshot" Screenshot.usage Screenshot.main
        ]

    /// Runs the named command with its arguments; returns its exit code (2 for usage errors, see Cli.run).
    static member Run(command: string, argv: string array) : int = Cli.run Entry.Commands command argv
