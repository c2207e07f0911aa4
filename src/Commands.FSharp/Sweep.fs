/// `scripts/sweep.fsx`: one sweep beyond the paper (Table 4): task weights, modality weights or modality subsets,
/// over the main job's data and configs, reusing its finished runs.
module Research.Commands.Sweep

open Research.Experiments
open Research.Commands.Cli

/// The main job's flags a sweep accepts (the same defaults, so its points equal to the main job's are its runs).
let private shared =
    [
        "seeds"
        "data"
        "corpus"
        "runs"
        "fresh"
        "tables"
        "plotly"
        "workers"
        "pretrain-steps"
        "finetune-steps"
    ]

/// What `sweep` accepts.
let usage =
    let known = String.concat "|" (Sweeps.named |> List.map fst)

    {
        Script = "scripts/sweep.fsx"
        Synopsis = $"--sweep {known} [flags]"
        Summary =
            "A sweep beyond the paper (Table 4): the main job's data, then what the sweep needs that is not finished (pre-training per point, the emotion TF from N seeds, chosen on dev, test intervals), then table4-SWEEP.md/.tex/.csv, sweep-SWEEP.json and the figure table4-SWEEP.html."
        Flags =
            flag
                "sweep"
                known
                "required"
                "task-weights: pre-training ASR/speaker 1/0 … 0/1; modality-weights: fusion weights paper, equal, audio-heavy, learned; subsets: the seven modality subsets of TF, pre-trained TF and the any-subset model"
            :: (Reproduce.usage.Flags |> List.filter (fun f -> List.contains f.Name shared))
        Examples =
            [
                "dotnet fsi scripts/sweep.fsx -- --sweep subsets"
                "dotnet fsi scripts/sweep.fsx -- --sweep task-weights --corpus tiny --seeds 1 --pretrain-steps 4 --finetune-steps 2 --data /tmp/demo --runs /tmp/runs --tables /tmp/tables"
            ]
        Notes =
            [
                "The defaults are the main job's (scripts/reproduce.fsx): its runs folder, so the points equal to its configs reuse its finished runs."
                "Cost beyond the main job's runs: task-weights 4 pre-trainings + 4 emotion models, modality-weights 3 + 3, subsets 1 + 1, each emotion model from --seeds seeds."
                "index.html links the table4 files and figures: the main job's with --beyond, and a sweep run into the main job's tables folder adds its own to the page there (index.json records what it links)."
            ]
    }

/// Entry point: parses flags and runs the sweep; returns the exit code.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let name = f.Required "sweep"

    if not (Sweeps.named |> List.exists (fst >> (=) name)) then
        let known = Sweeps.named |> List.map fst |> String.concat ", "
        raise (UsageError $"--sweep: unknown '{name}' (known: {known})")

    // A sweep runs in one process (it takes no --processes), with all the cores' threads.
    let job =
        { Reproduce.jobOf "dotnet fsi scripts/sweep.fsx" f argv with
            Processes = 1
        }

    SweepJob.run job name |> ignore
    0
