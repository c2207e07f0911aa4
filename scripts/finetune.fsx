// Emotion fine-tuning of the pre-trained transformer (or from scratch with --set Pretrained=).
// usage: dotnet fsi scripts/finetune.fsx [--preset demo|paper] [--config FILE.json] [--set PATH=VALUE ...]
// help: dotnet fsi scripts/finetune.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "finetune" (Research.scriptArgs ()))
