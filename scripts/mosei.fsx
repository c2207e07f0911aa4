// CMU-MOSEI commands. inspect: counts of the labelled segments per fold and per emotion, as one JSON object on stdout.
// usage: dotnet fsi scripts/mosei.fsx inspect --data DIR --folds FOLDS.json; help: dotnet fsi scripts/mosei.fsx -- --help
#load "Research.fsx"

open System

// stdout carries the JSON only: the build messages Research.fsx prints when sources changed go to stderr.
let stdout' = Console.Out
Console.SetOut Console.Error
Research.ensureBuilt ()
Console.SetOut stdout'
exit (Research.runEntry "mosei" (Research.scriptArgs ()))
