// The main job: the demo corpus (generated when absent) and its feature stores, then the smoke training of the
// paper-shaped model. usage: dotnet fsi scripts/reproduce.fsx [--data DIR] [--corpus default|tiny] ...
// help: dotnet fsi scripts/reproduce.fsx -- --help
#load "Research.fsx"

// --ranks N (data-parallel pre-training) runs mpirun; only then is OpenMPI needed.
if Research.scriptArgs () |> Array.contains "--ranks" then
    Research.requireDebian "data-parallel pre-training (--ranks)" [ "openmpi-bin"; "libopenmpi-dev" ]

// The demo corpus speaks with espeak-ng and encodes its videos with ffmpeg.
Research.requireDebian "the demo corpus" [ "espeak-ng"; "ffmpeg" ]
exit (Research.runEntry "reproduce" (Research.scriptArgs ()))
