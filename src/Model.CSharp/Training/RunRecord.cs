namespace Research.Model.Training;

/// <summary>The content of a run folder's run.json: the seed, how the run started, and each later resumption.</summary>
public sealed record RunRecord(int Seed, RunInfo Start, IReadOnlyList<RunInfo> Resumes);
