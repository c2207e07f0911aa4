// Training steps of one configuration (demo or paper) in this process, or data-parallel over the ranks of mpirun with
// the same global batch; rank 0 writes ms per step, all-reduce ms and bytes per step. The child of
// `bench.fsx --parts scale`, which runs it as 1 rank x 1 thread, 1 rank x 2 threads and 2 ranks x 1 thread.
// usage: dotnet fsi scripts/bench-scale.fsx -- --config demo --out FILE; help: dotnet fsi scripts/bench-scale.fsx -- --help
#load "Research.fsx"

exit (Research.runBenchmark "bench-scale" (Research.scriptArgs ()))
