namespace Research.Model.Training;

/// <summary>One evaluation line of a metrics log: the step it followed, the split, its metrics by name, and when it was written.</summary>
public sealed record EvaluationEntry(long Step, string Split, IReadOnlyDictionary<string, double> Metrics, DateTimeOffset Time);
