// Audio features of one file: 40 log mel filter-bank energies every 10 ms (Kaldi's fbank), optionally normalised
// (per utterance, or by a store's global statistics) and stacked (the paper: 5 frames -> 200-d every 50 ms), written
// as float32 .npy; and the feature stores of a pre-training data dir (pretrain) or of CMU-MOSEI (emotion).
// usage: dotnet fsi scripts/features.fsx lfbe --wav IN --out OUT.npy [--stack 5] [--cmvn none|utterance|global --stats S]
//        dotnet fsi scripts/features.fsx pretrain --data KALDI_DIR --out STORE --glove G [--cmvn global] [--skip-bad R]
//        dotnet fsi scripts/features.fsx emotion --mosei DIR --folds F --out ROOT [--skip-bad R]
// help: dotnet fsi scripts/features.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "features" (Research.scriptArgs ()))
