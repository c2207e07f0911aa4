// CMU-MOSEI commands. inspect: counts of the labelled segments per fold and per emotion, as one JSON object on stdout
// (set-up and build messages go to stderr).
// usage: dotnet fsi scripts/mosei.fsx inspect --data DIR --folds FOLDS.json [--skip-bad REPORT.json]
// help: dotnet fsi scripts/mosei.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "mosei" (Research.scriptArgs ()))
