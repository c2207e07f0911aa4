// Utterance embeddings (mean over valid audio frames of the fused encoder output; frame-level with --frames) of every
// item of a feature store, from a pre-training or emotion run: PATH.npy, PATH.ids.txt, PATH.parquet, PATH.json.
// usage: dotnet fsi scripts/embed.fsx --checkpoint RUN --data DIR --out PATH [--frames] [--modalities A,V,T]
// help: dotnet fsi scripts/embed.fsx -- --help
#load "Research.fsx"

exit (Research.runEntry "embed" (Research.scriptArgs ()))
