/// The benchmark commands the bench scripts run by name (scripts/Research.fsx loads this assembly in its own context).
namespace Research.Benchmarks

open Research.Commands
open Research.Commands.Cli

type Entry =
    /// Every benchmark command, by the name the scripts use.
    static member Commands: Command list =
        [
            command "bench" Bench.usage Bench.main
            command "bench-lfbe" BenchLfbe.usage BenchLfbe.main
            command "bench-step" BenchStep.usage BenchStep.main
            command "bench-scale" BenchScale.usage BenchScale.main
            command "smoke" Smoke.usage Smoke.main
        ]

    /// Runs the named command with its arguments; returns its exit code (2 for usage errors, see Cli.run).
    static member Run(command: string, argv: string array) : int = Cli.run Entry.Commands command argv
