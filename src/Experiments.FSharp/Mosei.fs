/// CMU-MOSEI commands. inspect: count the labelled segments of a folder of .csd files per fold and per emotion,
/// reading the labels only.
module Research.Experiments.Mosei

open System
open Research.Model.Data

let usage =
    "usage: dotnet fsi scripts/mosei.fsx inspect --data DIR --folds FOLDS.json [--labels ROOT]\n"
    + "       prints one JSON object on stdout: {\"n_segments\": N, \"by_fold\": {\"train\": n, \"valid\": n, \"test\": n},\n"
    + "       \"positives\": [happy, sad, anger, surprise, disgust, fear]} over the segments of the videos in the folds\n"
    + "       (positive = intensity > 0); warnings go to stderr. --labels names the labels root (default \"All Labels\").\n"
    + "       (help: dotnet fsi scripts/mosei.fsx -- --help)"

/// Counts the segments of the fold videos, reading the labels root only; returns the counts and the report.
let inspect (data: string) (folds: string) (labelsRoot: string) : MoseiSummary * MoseiReport =
    use corpus =
        MoseiCorpus.Open(data, folds, MoseiOptions(LabelsRoot = labelsRoot, Modalities = MoseiModalities.None))

    let summary = MoseiSummary.Of(corpus.Segments())
    summary, corpus.Report

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
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        match List.ofArray argv with
        | "inspect" :: rest ->
            let f = Cli.parse [ "data"; "folds"; "labels" ] (Array.ofList rest)

            let need name =
                f.Values
                |> Map.tryFind name
                |> Option.defaultWith (fun () -> raise (Cli.UsageError $"inspect needs --{name}"))

            let summary, report =
                inspect (need "data") (need "folds") (f.Get("labels", "All Labels"))

            warn "are in the folds but not in the labels" report.MissingFromData
            warn "of the labels are in no fold (not counted)" report.NotInAnyFold
            printfn "%s" (summary.ToJson())
            0
        | [] -> raise (Cli.UsageError "missing command (known: inspect)")
        | other :: _ -> raise (Cli.UsageError $"unknown command '{other}' (known: inspect)")
