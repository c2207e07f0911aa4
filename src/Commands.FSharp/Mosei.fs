/// `scripts/mosei.fsx`: CMU-MOSEI at a glance (inspect: labelled segments per fold and per emotion).
module Research.Commands.Mosei

open System
open System.IO
open Research.Model.Data
open Research.Experiments
open Research.Commands.Cli

/// What `mosei` accepts.
let usage =
    {
        Script = "scripts/mosei.fsx"
        Synopsis = "inspect --data DIR --folds FOLDS.json [flags]"
        Summary = "inspect: counts of the labelled segments per fold and per emotion, as one JSON object on stdout."
        Flags =
            [
                flag "data" "DIR" "required" "a folder of CMU-MultimodalSDK .csd files"
                flag "folds" "FOLDS.json" "required" "the standard folds (train / valid / test video ids)"
                flag "labels" "ROOT" "\"All Labels\"" "the labels root inside the .csd files"
                flag
                    "skip-bad"
                    "REPORT.json"
                    "none: labels only"
                    "read the features too; count only usable segments, list the others (id, file, reason) in REPORT.json"
                flag "audio" "ROOT" "COVAREP" "with --skip-bad: the .csd root of the audio features"
                flag "video" "ROOT" "\"FACET 4.2\"" "with --skip-bad: the .csd root of the video features"
                flag "text" "ROOT" "glove_vectors" "with --skip-bad: the .csd root of the text features"
            ]
        Examples =
            [
                "dotnet fsi scripts/mosei.fsx inspect --data data/mosei --folds data/mosei/folds.json"
                "dotnet fsi scripts/mosei.fsx inspect --data data/mosei --folds data/mosei/folds.json --skip-bad /tmp/mosei-bad.json"
            ]
        Notes =
            [
                "stdout: {\"n_segments\": N, \"by_fold\": {\"train\": n, \"valid\": n, \"test\": n}, \"positives\": [happy, sad,"
                "anger, surprise, disgust, fear]} over the segments of the fold videos (positive = intensity > 0);"
                "warnings (videos missing from the labels or from every fold) go to stderr. With --skip-bad, a segment"
                "without a row in a modality, or overlapping a NaN/+inf row, is not counted but listed in REPORT.json."
            ]
    }

/// One stderr line about some videos, naming at most ten.
let private warn (what: string) (videos: string seq) =
    let all = List.ofSeq videos

    if not all.IsEmpty then
        let shown = all |> List.truncate 10 |> String.concat ", "

        let more =
            if all.Length > 10 then
                $", ... ({all.Length - 10} more)"
            else
                ""

        eprintfn "warning: %d video(s) %s: %s%s" all.Length what shown more

/// Entry point: `inspect --data DIR --folds FOLDS.json [--labels ROOT] [--skip-bad REPORT.json [--audio R] [--video R] [--text R]]`.
let main (argv: string array) : int =
    match List.ofArray argv with
    | "inspect" :: rest ->
        let f = parseUsage usage (Array.ofList rest)

        let data, folds, labels =
            f.Required "data", f.Required "folds", f.Get("labels", "All Labels")

        let summary, report =
            match f.TryGet "skip-bad" with
            | None ->
                for root in [ "audio"; "video"; "text" ] do
                    if f.Values.ContainsKey root then
                        raise (UsageError $"--{root} applies only with --skip-bad (without it, inspect reads the labels only)")

                Mosei.inspect data folds labels
            | Some _ ->
                Mosei.inspectUsable
                    data
                    folds
                    labels
                    (f.Get("audio", "COVAREP"))
                    (f.Get("video", "FACET 4.2"))
                    (f.Get("text", "glove_vectors"))

        warn "are in the folds but not in the labels" report.MissingFromData
        warn "of the labels are in no fold (not counted)" report.NotInAnyFold

        match f.TryGet "skip-bad" with
        | Some path ->
            let skips = SkipReport("mosei.fsx " + String.Join(" ", argv))
            skips.AddMosei report
            skips.Save path
            eprintfn "%s" (skips.Summary(Path.GetFullPath path))
        | None -> ()

        printfn "%s" (summary.ToJson())
        0
    | [] -> raise (UsageError "missing command (known: inspect)")
    | other :: _ -> raise (UsageError $"unknown command '{other}' (known: inspect)")
