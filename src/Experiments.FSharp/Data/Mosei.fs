/// CMU-MOSEI at a glance: the labelled segments of a folder of .csd files per fold and per emotion, reading the
/// labels only (scripts/mosei.fsx inspect).
module Research.Experiments.Mosei

open Research.Model.Data

/// Counts the segments of the fold videos, reading the labels root only; returns the counts and the report.
let inspect (data: string) (folds: string) (labelsRoot: string) : MoseiSummary * MoseiReport =
    use corpus =
        MoseiCorpus.Open(data, folds, MoseiOptions(LabelsRoot = labelsRoot, Modalities = MoseiModalities.None))

    let summary = MoseiSummary.Of(corpus.Segments())
    summary, corpus.Report
