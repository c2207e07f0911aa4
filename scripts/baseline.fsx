// The paper's baselines: late fusion of per-modality BiGRUs, or the transformer from scratch.
// usage: dotnet fsi scripts/baseline.fsx --model late-fusion|transformer [--preset demo|paper] [--set PATH=VALUE ...]
// help: dotnet fsi scripts/baseline.fsx -- --help
#load "Research.fsx"

// --ranks N (data-parallel training) runs mpirun; only then is OpenMPI needed.
if Research.scriptArgs () |> Array.contains "--ranks" then
    Research.requireDebian "data-parallel baseline training (--ranks)" [ "openmpi-bin"; "libopenmpi-dev" ]

exit (Research.runEntry "baseline" (Research.scriptArgs ()))
