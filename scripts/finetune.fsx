// Emotion fine-tuning of the pre-trained transformer (or from scratch with --set Pretrained=).
// usage: dotnet fsi scripts/finetune.fsx [--preset demo|paper] [--config FILE.json] [--set PATH=VALUE ...]
// help: dotnet fsi scripts/finetune.fsx -- --help
#load "Research.fsx"

// --ranks N (data-parallel training) runs mpirun; only then is OpenMPI needed.
if Research.scriptArgs () |> Array.contains "--ranks" then
    Research.requireDebian "data-parallel fine-tuning (--ranks)" [ "openmpi-bin"; "libopenmpi-dev" ]

exit (Research.runEntry "finetune" (Research.scriptArgs ()))
