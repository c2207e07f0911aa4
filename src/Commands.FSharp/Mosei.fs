/// `scripts/mosei.fsx`: CMU-MOSEI at a glance (inspect: labelled segments per fold and per emotion).
module Research.Commands.Mosei

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
            ]
        Examples =
            [
                "dotnet fsi scripts/mosei.fsx inspect --data data/mosei --folds data/mosei/folds.json"
            ]
        Notes =
            [
                "stdout: {\"n_segments\": N, \"by_fold\": {\"train\": n, \"valid\": n, \"test\": n}, \"positives\": [happy, sad,"
                "anger, surprise, disgust, fear]} over the segments of the fold videos (positive = intensity > 0);"
                "warnings (videos missing from the labels or from every fold) go to stderr."
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

/// Entry point: `inspect --data DIR --folds FOLDS.json [--labels ROOT]`.
let main (argv: string array) : int =
    match List.ofArray argv with
    | "inspect" :: rest ->
        let f = parseUsage usage (Array.ofList rest)

        let summary, report =
            Mosei.inspect (f.Required "data") (f.Required "folds") (f.Get("labels", "All Labels"))

        warn "are in the folds but not in the labels" report.MissingFromData
        warn "of the labels are in no fold (not counted)" report.NotInAnyFold
        printfn "%s" (summary.ToJson())
        0
    | [] -> raise (UsageError "missing command (known: inspect)")
    | other :: _ -> raise (UsageError $"unknown command '{other}' (known: inspect)")
