/// `scripts/evaluate.fsx`: the paper's evaluation protocol on two prediction files (thresholds tuned on DEV).
module Research.Commands.Evaluate

open Research.Experiments
open Research.Experiments.Metrics
open Research.Commands.Cli

/// What `evaluate` accepts.
let usage =
    {
        Script = "scripts/evaluate.fsx"
        Synopsis = "--dev DEV.csv --test TEST.csv [flags]"
        Summary =
            "The paper's evaluation protocol: thresholds tuned on DEV only (for WA and F1 separately), TEST metrics as one JSON object on stdout."
        Flags =
            [
                flag "dev" "DEV.csv" "required" "predictions on the development split (thresholds are tuned here)"
                flag "test" "TEST.csv" "required" "predictions on the test split (scored at the dev thresholds)"
                flag
                    "bootstrap"
                    "B"
                    "none"
                    "add 95 % percentile intervals (wa_ci, f1_ci) from B resamples of single test items (unit segment)"
                flag "seed" "S" (string defaultBootstrap.Seed) "seed of the bootstrap resamples (only with --bootstrap)"
            ]
        Examples =
            [
                "dotnet fsi scripts/evaluate.fsx -- --dev runs/finetune-demo/dev.csv --test runs/finetune-demo/test.csv"
                "dotnet fsi scripts/evaluate.fsx -- --dev dev.csv --test test.csv --bootstrap 1000 --seed 1"
            ]
        Notes =
            [
                "CSV header: id,happy,sad,anger,surprise,disgust,fear,happy_score,...,fear_score (any column order, other"
                "columns ignored); labels 0/1 or intensities (present when > 0), scores any finite numbers (higher = more likely)."
                "stdout: {\"per_emotion\": {\"happy\": {\"wa\": .., \"f1\": ..}, ...}, \"average\": {\"wa\": .., \"f1\": ..}} for TEST"
                "(fractions in [0, 1]); warnings go to stderr."
            ]
    }

/// Entry point: `--dev DEV.csv --test TEST.csv [--bootstrap B] [--seed S]`; returns the exit code.
let main (argv: string array) : int =
    let f = parseUsage usage argv
    let dev, test = f.Required "dev", f.Required "test"

    let options =
        match f.TryGet "bootstrap", f.TryGet "seed" with
        | Some _, _ ->
            let b = f.Int("bootstrap", 0)

            if b < 1 then
                raise (UsageError $"--bootstrap must be at least 1, got {b}")

            Some
                { defaultBootstrap with
                    Resamples = b
                    Seed = f.Int("seed", defaultBootstrap.Seed)
                }
        | None, Some _ -> raise (UsageError "--seed only goes with --bootstrap")
        | None, None -> None

    let json, warns = Evaluate.evaluateFiles dev test options

    for w in warns do
        eprintfn "warning: %s" w

    printfn "%s" (json.ToJsonString())
    0
