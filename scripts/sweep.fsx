// A sweep beyond the paper (Table 4): task weights, modality weights or the seven modality subsets, over the main
// job's data and runs. usage: dotnet fsi scripts/sweep.fsx -- --sweep task-weights|modality-weights|subsets [flags]
// help: dotnet fsi scripts/sweep.fsx -- --help
#load "Research.fsx"

// The demo corpus speaks with espeak-ng and encodes its videos with ffmpeg.
Research.requireDebian "the demo corpus" [ "espeak-ng"; "ffmpeg" ]
exit (Research.runEntry "sweep" (Research.scriptArgs ()))
