// Audio features of one file: 40 log mel filter-bank energies every 10 ms (Kaldi's fbank), optionally normalised
// per utterance and stacked (the paper: 5 frames -> 200-d every 50 ms), written as float32 .npy.
// usage: dotnet fsi scripts/features.fsx lfbe --wav IN --out OUT.npy [--stack 5] [--cmvn none|utterance]
// help: dotnet fsi scripts/features.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "features" (Research.scriptArgs ()))
