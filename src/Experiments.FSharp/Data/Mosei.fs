/// CMU-MOSEI at a glance: the labelled segments of a folder of .csd files per fold and per emotion, reading the
/// labels only (scripts/mosei.fsx inspect), or the segments usable for training, reading the features too
/// (inspect --skip-bad).
module Research.Experiments.Mosei

open Research.Model.Data

/// Counts the segments of the fold videos, reading the labels root only; returns the counts and the report.
let inspect (data: string) (folds: string) (labelsRoot: string) : MoseiSummary * MoseiReport =
    use corpus =
        MoseiCorpus.Open(data, folds, MoseiOptions(LabelsRoot = labelsRoot, Modalities = MoseiModalities.None))

    let summary = MoseiSummary.Of(corpus.Segments())
    summary, corpus.Report

/// Counts the segments of the fold videos that have a row in every modality (the .csd roots `audio`, `video`,
/// `text`) and no NaN/+inf row, reading the features too; the others are skipped and listed in the report
/// (MoseiReport.Skipped).
let inspectUsable (data: string) (folds: string) (labels: string) (audio: string) (video: string) (text: string) =
    let options =
        MoseiOptions(
            LabelsRoot = labels,
            AudioRoot = audio,
            VideoRoot = video,
            TextRoot = text,
            SkipEmptySegments = true,
            SkipNaNSegments = true
        )

    use corpus = MoseiCorpus.Open(data, folds, options)
    let summary = MoseiSummary.Of(corpus.Segments())
    summary, corpus.Report
