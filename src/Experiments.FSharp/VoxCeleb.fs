/// VoxCeleb2 → Kaldi data directory: `dotnet fsi scripts/voxceleb.fsx import --root R --text T --scores S --threshold X --out DIR`.
/// Keeps the utterances whose ASR score reaches the threshold (the paper's English filter, §4.1) and writes
/// wav.scp (m4a), video.scp (mp4), text, utt2spk, spk2utt and import_report.json.
module Research.Experiments.VoxCeleb

open System
open System.Globalization
open System.IO
open Research.Model.Data

let usage =
    "usage: dotnet fsi scripts/voxceleb.fsx import --root R --text T --scores S --threshold X --out DIR\n"
    + "         [--max-per-speaker N] [--min-per-speaker N] [--seed N] [--examples N] [--split dev]\n"
    + "       R holds dev/aac/idXXXXX/<youtube_id>/NNNNN.m4a and dev/mp4/...; T is a Kaldi text file and S has 'utt score'\n"
    + "       lines (higher = more confident), both keyed idXXXXX-<youtube_id>-NNNNN\n"
    + "       (help: dotnet fsi scripts/voxceleb.fsx -- --help)"

let private required (f: Cli.Flags) (name: string) =
    match f.Values |> Map.tryFind name with
    | Some v -> v
    | None -> raise (Cli.UsageError $"--{name} is required")

let private number (f: Cli.Flags) (name: string) =
    let v = required f name

    match Double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, x when not (Double.IsNaN x) -> x
    | _ -> raise (Cli.UsageError $"--{name} expects a number, got '{v}'")

/// Imports and prints the counts; returns the exit code.
let import (argv: string array) : int =
    let f =
        Cli.parse
            [
                "root"
                "text"
                "scores"
                "threshold"
                "out"
                "max-per-speaker"
                "min-per-speaker"
                "seed"
                "examples"
                "split"
            ]
            argv

    let cap =
        if f.Values.ContainsKey "max-per-speaker" then
            Nullable(f.Int("max-per-speaker", 0))
        else
            Nullable()

    let options =
        VoxCeleb2ImportOptions(
            Threshold = number f "threshold",
            MaxPerSpeaker = cap,
            MinPerSpeaker = f.Int("min-per-speaker", 1),
            Seed = f.Int("seed", 0),
            Examples = f.Int("examples", 10),
            Split = f.Get("split", "dev")
        )

    let out = required f "out"

    let report =
        VoxCeleb2Importer.Import(required f "root", required f "text", required f "scores", out, options)

    printfn "%s" (report.Summary())
    printfn "wrote %s (counts and example ids: %s)" (Path.GetFullPath out) (Path.Combine(Path.GetFullPath out, "import_report.json"))
    0

/// Entry point: the subcommand, then its flags.
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        match List.ofArray argv with
        | "import" :: rest -> import (Array.ofList rest)
        | other :: _ -> raise (Cli.UsageError $"unknown subcommand '{other}' (known: import)")
        | [] -> raise (Cli.UsageError "a subcommand is needed: import")
