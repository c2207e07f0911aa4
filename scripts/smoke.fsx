// The smoke run: the paper-shaped model (or a tiny one) trained for a few steps on generated batches, every loss term
// and the time per step; proves the toolchain end to end, learns nothing about emotions.
// usage: dotnet fsi scripts/smoke.fsx [-- --config paper|tiny --steps 6]; help: dotnet fsi scripts/smoke.fsx -- --help
#load "Research.fsx"

exit (Research.runBenchmark "smoke" (Research.scriptArgs ()))
