/// `scripts/voxceleb.fsx`: VoxCeleb2 → Kaldi data directory, keeping the utterances whose ASR score reaches a threshold
/// (the paper's English filter, §4.1); writes wav.scp (m4a), video.scp (mp4), text, utt2spk, spk2utt and
/// import_report.json.
module Research.Commands.VoxCeleb

open System
open System.Globalization
open System.IO
open Research.Model.Data
open Research.Commands.Cli

/// What `voxceleb` accepts.
let usage =
    {
        Script = "scripts/voxceleb.fsx"
        Synopsis = "import --root R --text T --scores S --threshold X --out DIR [flags]"
        Summary = "import: VoxCeleb2 → Kaldi data directory of the utterances whose ASR score reaches the threshold."
        Flags =
            [
                flag "root" "R" "required" "holds dev/aac/idXXXXX/<youtube_id>/NNNNN.m4a and dev/mp4/..."
                flag "text" "T" "required" "a Kaldi text file keyed idXXXXX-<youtube_id>-NNNNN"
                flag "scores" "S" "required" "'utt score' lines, same keys (higher = more confident)"
                flag "threshold" "X" "required" "lowest score kept"
                flag "out" "DIR" "required" "the Kaldi data directory written"
                flag "max-per-speaker" "N" "no cap" "most utterances kept per speaker (a seeded choice)"
                flag "min-per-speaker" "N" "1" "speakers with fewer kept utterances are dropped"
                flag "seed" "N" "0" "seed of the per-speaker choice"
                flag "examples" "N" "10" "example ids listed per reason in import_report.json"
                flag "split" "NAME" "dev" "the VoxCeleb2 split folder under R"
                flag
                    "skip-bad"
                    "REPORT.json"
                    "none: bad input is an error"
                    "skip clips with no mp4, no or an empty transcript, or no score; list them (id, file, reason) in REPORT.json"
            ]
        Examples =
            [
                "dotnet fsi scripts/voxceleb.fsx import --root /data/vox2 --text asr/text --scores asr/scores --threshold 0.8 --out data/vox2-en"
                "dotnet fsi scripts/voxceleb.fsx import --root /data/vox2 --text asr/text --scores asr/scores --threshold 0.8 --out data/vox2-en --skip-bad data/vox2-en-skipped.json"
            ]
        Notes =
            [
                "The filters (threshold, per-speaker cap and minimum) drop utterances by design; import_report.json counts them."
            ]
    }

let private number (f: Flags) (name: string) =
    let v = f.Required name

    match Double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, x when not (Double.IsNaN x) -> x
    | _ -> raise (UsageError $"--{name} expects a number, got '{v}'")

/// Imports and prints the counts; returns the exit code.
let import (argv: string array) : int =
    let f = parseUsage usage argv

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
            Split = f.Get("split", "dev"),
            SkipBadInputs = f.Values.ContainsKey "skip-bad"
        )

    let out = f.Required "out"

    let report =
        VoxCeleb2Importer.Import(f.Required "root", f.Required "text", f.Required "scores", out, options)

    printfn "%s" (report.Summary())

    match f.TryGet "skip-bad" with
    | Some path ->
        let skips = SkipReport("voxceleb.fsx import " + String.Join(" ", argv))
        report.BadInputs |> Seq.iter skips.Add
        skips.Save path
        printfn "%s" (skips.Summary(Path.GetFullPath path))
    | None -> ()

    printfn "wrote %s (counts and example ids: %s)" (Path.GetFullPath out) (Path.Combine(Path.GetFullPath out, "import_report.json"))
    0

/// Entry point: the subcommand, then its flags.
let main (argv: string array) : int =
    match List.ofArray argv with
    | "import" :: rest -> import (Array.ofList rest)
    | other :: _ -> raise (UsageError $"unknown subcommand '{other}' (known: import)")
    | [] -> raise (UsageError "a subcommand is needed: import")
