// Multi-task pre-training (ASR + speaker identification). usage: dotnet fsi scripts/pretrain.fsx [--preset demo|paper]
// [--config FILE.json] [--set PATH=VALUE ...]; help: dotnet fsi scripts/pretrain.fsx -- --help
#load "Research.fsx"

// --ranks N (data-parallel pre-training) runs mpirun; only then is OpenMPI needed.
if Research.scriptArgs () |> Array.contains "--ranks" then
    Research.requireDebian "data-parallel pre-training (--ranks)" [ "openmpi-bin"; "libopenmpi-dev" ]

exit (Research.runEntry "pretrain" (Research.scriptArgs ()))
