// Multi-task pre-training (ASR + speaker identification). usage: dotnet fsi scripts/pretrain.fsx [--preset demo|paper]
// [--config FILE.json] [--set PATH=VALUE ...]; help: dotnet fsi scripts/pretrain.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "pretrain" (Research.scriptArgs ()))
