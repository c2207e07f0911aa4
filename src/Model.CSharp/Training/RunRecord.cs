namespace Research.Model.Training;

/// <summary>
/// The content of a run folder's run.json: the seed, how the run started, each later resumption, and what the run
/// was made from (<see cref="RunInputs"/>; null in runs started before inputs were recorded).
/// </summary>
public sealed record RunRecord(int Seed, RunInfo Start, IReadOnlyList<RunInfo> Resumes, RunInputs? Inputs = null);
