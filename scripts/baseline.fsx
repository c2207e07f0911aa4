// The paper's baselines: late fusion of per-modality BiGRUs, or the transformer from scratch.
// usage: dotnet fsi scripts/baseline.fsx --model late-fusion|transformer [--preset demo|paper] [--set PATH=VALUE ...]
// help: dotnet fsi scripts/baseline.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "baseline" (Research.scriptArgs ()))
