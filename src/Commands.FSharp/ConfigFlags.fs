/// The flags shared by the commands that train one configuration (pretrain, finetune, baseline): a preset or a JSON
/// file, overrides, and the runs folder.
module Research.Commands.ConfigFlags

open Research.Experiments
open Research.Commands.Cli

/// --preset, --config, --set, --runs, --fresh and --dataset; `presets` are the preset names, the first one the default.
let flags (presets: string list) =
    [
        flag "preset" (String.concat "|" presets) presets.Head "a named configuration"
        flag "config" "FILE.json" "none" "a configuration file instead of a preset (a run folder's config.json works)"
        flag "set" "PATH=VALUE" "none" "override one field, e.g. Budget.Steps=500; repeat for more"
        flag "runs" "DIR" "runs" "where run folders go; a finished run is reused, an unfinished one resumes, when config and inputs match"
        switch "fresh" "train into a new folder beside an existing run (NAME-2, NAME-3, …) instead of reusing it"
        flag "dataset" "LABEL" "the input folder" "label of the data, written into run.json and onto the run's table rows"
    ]

/// The configuration the flags name: --config, else --preset, then every --set (see Config.resolve).
let resolve (presets: (string * 'T) list) (f: Flags) : 'T =
    Config.resolve presets (f.TryGet "preset") (f.TryGet "config") (f.Every "set")

/// The runs folder (--runs).
let runs (f: Flags) = f.Get("runs", "runs")

/// The run request of the flags: --fresh, and --dataset (else the dataset label is the input folder).
let request (f: Flags) : Runs.Request =
    {
        Fresh = f.Has "fresh"
        Dataset = f.Get("dataset", "")
    }
