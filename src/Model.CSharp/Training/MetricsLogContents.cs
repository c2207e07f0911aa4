namespace Research.Model.Training;

/// <summary>
/// A metrics log as read back: its step and evaluation lines in file order, and whether its last line was torn
/// (written only in part when the process was killed; such a line is left out).
/// </summary>
public sealed record MetricsLogContents(IReadOnlyList<StepEntry> Steps, IReadOnlyList<EvaluationEntry> Evaluations, bool TornLastLine);
