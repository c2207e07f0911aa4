/// The flags of the walk-through scripts/explore.fsx (which runs in F# Interactive, not through Entry).
module Research.Commands.Explore

open Research.Experiments
open Research.Commands.Cli

/// What scripts/explore.fsx accepts (defaults: Explore.defaults, under the repository root).
let usage =
    let d = Explore.defaults ()

    {
        Script = "scripts/explore.fsx"
        Synopsis = "[flags]   (or step through it in an editor's F# Interactive)"
        Summary =
            "A walk-through of a trained encoder: cross-modal attention maps of a few items, all embeddings in 2-D (PCA) by emotion and speaker."
        Flags =
            [
                flag "checkpoint" "RUN" "runs/finetune-demo, else runs/pretrain-demo" "a run folder or weights file"
                flag "data" "DIR" "data/demo/features/emotion" "a feature store, the emotion stores' root, or a Kaldi data dir"
                flag "out" "FOLDER" "runs/explore" "where the charts go (HTML, plotly.js inline)"
                flag "items" "N" (string d.Items) "items whose attention maps are drawn"
                flag "max-points" "N" (string d.MaxPoints) "most items in the 2-D projection (an evenly spaced subset beyond)"
                flag "threads" "N" (string d.Threads) "torch threads"
                flag "png" "true|false" (if d.Png then "true" else "false") "PNG copies too, when chromium is installed"
            ]
        Examples =
            [
                "dotnet fsi scripts/explore.fsx"
                "dotnet fsi scripts/explore.fsx -- --checkpoint runs/pretrain-demo --data data/demo/pretrain/data --items 2 --png false"
            ]
        Notes = []
    }

/// Settings from the script's arguments (flags override `Explore.defaults ()`).
let parse (argv: string array) : Explore.Settings =
    let d = Explore.defaults ()
    let f = parseUsage usage argv

    let png =
        match f.Get("png", "true").ToLowerInvariant() with
        | "true"
        | "yes" -> true
        | "false"
        | "no" -> false
        | other -> raise (UsageError $"--png expects true or false, got '{other}'")

    {
        Checkpoint = f.Get("checkpoint", d.Checkpoint)
        Data = f.Get("data", d.Data)
        Out = f.Get("out", d.Out)
        Items = f.Int("items", d.Items)
        MaxPoints = f.Int("max-points", d.MaxPoints)
        Threads = f.Int("threads", d.Threads)
        Png = png
    }

/// The settings, or the exit code the script should end with (0 after --help, 2 after a usage error).
let settings (argv: string array) : Result<Explore.Settings, int> = guarded (render usage) parse argv
