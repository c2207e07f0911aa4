// VoxCeleb2 → Kaldi data directory, keeping utterances whose ASR score reaches a threshold (the paper's English filter).
// usage: dotnet fsi scripts/voxceleb.fsx import --root R --text T --scores S --threshold X --out DIR [--skip-bad REPORT.json] [...]
// help: dotnet fsi scripts/voxceleb.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "voxceleb" (Research.scriptArgs ()))
