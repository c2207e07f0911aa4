/// `scripts/embed.fsx`: utterance (or frame) embeddings of every item of a feature store, from a trained run.
module Research.Commands.Embed

open Research.Experiments
open Research.Commands.Cli

/// What `embed` accepts.
let usage =
    {
        Script = "scripts/embed.fsx"
        Synopsis = "--checkpoint RUN|FILE --data DIR --out PATH [flags]"
        Summary = "Utterance embeddings (mean over valid audio frames of the fused encoder output) of every item of a feature store."
        Flags =
            [
                flag "checkpoint" "RUN|FILE" "required" "a pre-training or emotion run folder, or a weights file inside one"
                flag "data" "DIR" "required" "a feature store, the emotion stores' root (train/ valid/ test/), or a Kaldi data dir"
                flag "out" "PATH" "required" "output stem: PATH.npy, PATH.ids.txt, PATH.parquet, PATH.json"
                switch "frames" "frame-level embeddings instead of utterance means (+ PATH.offsets.txt)"
                flag "modalities" "A,V,T" "every modality the model and the stores have" "streams used; the others get weight 0"
                flag "batch" "N" (string Embed.defaults.BatchSize) "items per forward pass"
                flag "threads" "N" "the number of cores" "torch threads"
                flag "device" "cpu|cuda" Embed.defaults.Device "where the model runs"
            ]
        Examples =
            [
                "dotnet fsi scripts/embed.fsx -- --checkpoint runs/pretrain-demo --data data/demo/features/emotion --out runs/embeddings/demo"
                "dotnet fsi scripts/embed.fsx -- --checkpoint runs/finetune-demo --data data/demo/features/emotion --out emb --modalities A,T --frames"
            ]
        Notes =
            [
                "RUN: a pre-training run (model.bin + model-config.json) or an emotion run (best.bin + config.json);"
                "checkpoint.bin of an unfinished run works too. A Kaldi data dir is read through its feature store."
            ]
    }

/// Entry point of `embed`.
let main (argv: string array) : int =
    let f = parseUsage usage argv

    let summary =
        Embed.run
            {
                Checkpoint = f.Required "checkpoint"
                Data = f.Required "data"
                Out = f.Required "out"
                Frames = f.Has "frames"
                Modalities = f.TryGet "modalities" |> Option.map Embed.parseModalities
                BatchSize = f.Int("batch", Embed.defaults.BatchSize)
                Threads = f.Int("threads", Embed.defaults.Threads)
                Device = f.Get("device", Embed.defaults.Device)
            }

    printfn "embed: %d items, %d rows of %d in %.1f s" summary.Items summary.Rows summary.Dim summary.Seconds
    0
