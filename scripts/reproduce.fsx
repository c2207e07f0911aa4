// The main job. For now: the smoke run (build, load TorchSharp, train the paper-shaped model briefly on a
// generated batch, print every loss term and the time per step).
// usage: dotnet fsi scripts/reproduce.fsx [--config paper|tiny] [--steps N] ...; help: dotnet fsi scripts/reproduce.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "smoke" (Research.scriptArgs ()))
