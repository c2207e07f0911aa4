// The benchmark harness: fp32 matmul ceiling, training step (paper and demo configurations, two batch sizes),
// inference × real time per modality subset, LFBE front end against torchaudio, memory over 2,000 training steps,
// the same model in PyTorch (agreement of outputs and gradients, step-time ratio), a profile of the step, and the
// fuzzed readers (--parts faults: benchmarks/faults.json, its figure, section 8 of BENCHMARKS.md).
// Writes benchmarks/results.json (every repetition) and BENCHMARKS.md. Installs the Debian packages it compares with.
// usage: dotnet fsi scripts/bench.fsx [--quick] [--parts step,profile]; help: dotnet fsi scripts/bench.fsx -- --help
#load "Research.fsx"

let args = Research.scriptArgs ()

if not (args |> Array.exists (fun a -> a = "--help" || a = "-h" || a = "--report-only")) then
    Research.requireDebian "the benchmarks' references" [ "python3-torch"; "python3-torchaudio"; "libopenblas0-pthread" ]

exit (Research.runBenchmark "bench" args)
