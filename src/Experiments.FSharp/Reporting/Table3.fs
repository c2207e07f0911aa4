/// Table 3 of the paper: average WA and F1 with modalities removed at inference (the ablations).
module Research.Experiments.Table3

open Research.Experiments.Protocol
open Research.Experiments.TableFormat

/// The paper's Table 3 (average WA and F1 with modalities removed at inference).
let paper =
    [
        reference "Baseline" [ 57.2; 74.4; 60.3; 76.3; 65.8; 77.8; 66.5; 78.5 ]
        reference "Embeddings from the Multi-task model" [ 57.6; 75.1; 60.9; 76.4; 66.2; 78.4; 67.1; 78.8 ]
    ]

/// How Table 3's caption names the ablations' thresholds (results' AblationThresholds: "retuned" or "full").
let thresholdsCaption (choice: string) =
    match choice with
    | "full" -> "thresholds of the full model (tuned on its dev predictions with every modality)"
    | "retuned" -> "thresholds re-tuned on each ablation's dev predictions"
    | other -> $"thresholds: {other}"

/// Table 3: average WA and F1 of the chosen TF and pre-trained models with modalities removed at inference.
let build (r: Results) =
    let columns = paperAblations |> List.map (fun a -> a.Name)

    let row key label =
        let found =
            columns
            |> List.map (fun c -> r.Ablations |> Array.tryFind (fun a -> a.Key = key && a.Modalities = c))

        if found |> List.forall Option.isNone then
            None
        else
            let present = found |> List.choose id
            let dataset = joinDistinct (present |> List.map (fun a -> a.Dataset))

            Some
                {
                    Label = label
                    Dataset = dataset
                    Cells =
                        found
                        |> List.map (Option.map (fun a -> pct a.AverageWA.Value, pct a.AverageF1.Value))
                    AverageCi = None
                    SeedSpread = None
                    Origins =
                        [
                            for a in present ->
                                ({
                                    Run = a.Run
                                    Dataset = a.Dataset
                                    Commit = a.Commit
                                    Command = a.Command
                                }
                                : Runs.Origin)
                        ]
                        |> List.distinct
                }

    {
        Name = "table3"
        Title =
            "Table 3: Ablation studies with and without learned embeddings: average weighted accuracy and F1-score over the 6 emotions, modalities removed at inference; "
            + thresholdsCaption r.AblationThresholds
        Groups = columns
        Rows =
            paper
            @ ([
                row scratchKey "Baseline"
                row pretrainedKey "Embeddings from the Multi-task model"
               ]
               |> List.choose id)
    }
