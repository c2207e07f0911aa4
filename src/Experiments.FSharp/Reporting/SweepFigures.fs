/// The figure of a sweep beyond the paper (Table 4), from its results file only: average test WA and F1 per point
/// with interval whiskers (task-weight and modality-weight sweeps), or grouped bars of the seven modality subsets ×
/// the subset sweep's models, a model missing where it cannot run (without audio, the paper's encoder).
module Research.Experiments.SweepFigures

open Plotly.NET
open Research.Experiments.Protocol
open Research.Experiments.Table4

let private pct (x: float) = 100.0 * x

/// Bars of estimates with asymmetric interval whiskers.
let private bars (name: string) (keys: string[]) (estimates: Estimate[]) =
    let values = estimates |> Array.map (fun e -> pct e.Value)

    Chart.Column(values = values, Keys = keys, Name = name)
    |> Chart.withYErrorStyle (
        Array = Array.map2 (fun (e: Estimate) v -> pct e.High - v) estimates values,
        Arrayminus = Array.map2 (fun (e: Estimate) v -> v - pct e.Low) estimates values,
        Symmetric = false
    )

/// The chart of a sweep's results.
let chart (s: SweepResults) =
    let r = s.Results
    let level = TableFormat.levelText r.Bootstrap.Level

    let panel (metric: string) (traces: GenericChart list) (categories: string list) =
        traces
        |> Chart.combine
        |> Chart.withYAxisStyle (TitleText = $"average {metric} (%%)")
        |> Chart.withXAxisStyle (CategoryOrder = StyleParam.CategoryOrder.Array, CategoryArray = categories)

    let panels =
        if s.Sweep = "subsets" then
            let traces (metric: string) (pick: AblationResult -> Estimate) =
                [
                    for m in r.Models do
                        let cells = subsetNames |> List.choose (subsetCell r m.Key) |> Array.ofList

                        if cells.Length > 0 then
                            bars $"{m.Label} ({metric})" (cells |> Array.map _.Modalities) (cells |> Array.map pick)
                ]

            [
                panel "WA" (traces "WA" _.AverageWA) subsetNames
                panel "F1" (traces "F1" _.AverageF1) subsetNames
            ]
        else
            let labels = r.Models |> Array.map _.Label

            [
                panel "WA" [ bars "average WA" labels (r.Models |> Array.map _.AverageWA) ] (List.ofArray labels)
                panel "F1" [ bars "average F1" labels (r.Models |> Array.map _.AverageF1) ] (List.ofArray labels)
            ]

    let what =
        match s.Sweep with
        | "task-weights" -> "pre-training task weights (ASR / speaker), TF fine-tuned from each"
        | "modality-weights" -> "pre-training modality weights, TF fine-tuned from each"
        | "subsets" -> "modality subsets at inference (no bar: the model cannot run without audio)"
        | other -> other

    Chart.Grid (2, 1) panels
    |> Chart.withTitle $"Table 4, beyond the paper: {what}; test averages, {level} intervals — {r.Dataset}"
    |> Chart.withSize (1100, 800)

/// Writes the sweep's figure as `table4-<sweep>.html` (and PNG) into `folder`.
let write (mode: Plots.PlotlyMode) (folder: string) (s: SweepResults) =
    Figures.write mode folder (tableName s.Sweep) $"Beyond the paper: the {s.Sweep} sweep (Table 4)" (chart s)
