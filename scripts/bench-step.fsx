// Time per training step of the transformer and the late-fusion baseline (paper and demo sizes, two batch sizes
// each), the achieved FLOP/s from the analytic count, and the fp32 matmul ceiling measured in the same run; writes
// benchmarks/step.json and prints a table.
// usage: dotnet fsi scripts/bench-step.fsx [--repeats 7] [--warmup 2]; help: dotnet fsi scripts/bench-step.fsx -- --help
#load "Research.fsx"

exit (Research.runBenchmark "bench-step" (Research.scriptArgs ()))
