// The paper's evaluation protocol: thresholds tuned on DEV (for WA and F1 separately), test metrics as one JSON
// object on stdout (set-up and build messages, warnings go to stderr).
// usage: dotnet fsi scripts/evaluate.fsx --dev DEV.csv --test TEST.csv [--bootstrap B] [--seed S];
// help: dotnet fsi scripts/evaluate.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "evaluate" (Research.scriptArgs ()))
