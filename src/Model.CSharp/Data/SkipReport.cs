using System.Text.Json;

namespace Research.Model.Data;

/// <summary>An input item left out as bad: its id, the file at fault, and why.</summary>
/// <param name="Stage">Which step skipped it (e.g. <c>kaldi text</c>, <c>pretraining features</c>, <c>mosei train</c>).</param>
/// <param name="Id">The item (utterance id, or MOSEI <c>video[segment]</c>).</param>
/// <param name="File">The file holding the bad input.</param>
/// <param name="Reason">What was wrong.</param>
public sealed record BadItem(string Stage, string Id, string File, string Reason);

/// <summary>
/// The bad input items a command skipped because it was asked to (<c>--skip-bad REPORT.json</c>) instead of failing
/// on the first one. Passing a report to a builder turns skipping on; passing none keeps every bad item an error
/// naming the file and the item. Saved (atomically) as JSON:
/// <c>{"format": "skip-report/1", "command": …, "skipped": N, "byStage": {stage: n}, "items": [{"stage", "id", "file", "reason"}]}</c>.
/// </summary>
public sealed class SkipReport
{
    const string FormatName = "skip-report/1";

    readonly List<BadItem> items = [];

    /// <summary>An empty report of <paramref name="command"/> (the command line, for the reader of the file).</summary>
    public SkipReport(string command)
    {
        Command = command;
    }

    /// <summary>The command that skipped the items.</summary>
    public string Command { get; }

    /// <summary>The skipped items, in the order they were met.</summary>
    public IReadOnlyList<BadItem> Items => items;

    /// <summary>Adds one skipped item (thread-safe).</summary>
    public void Add(BadItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (items)
        {
            items.Add(item);
        }
    }

    /// <summary>Adds the utterances a Kaldi data dir dropped for an empty transcript (file: its <c>text</c>).</summary>
    public void AddKaldi(KaldiDataDir dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        foreach (string id in dir.SkippedEmptyTranscripts)
        {
            Add(new BadItem("kaldi text", id, Path.Combine(dir.Directory, "text"), "empty transcript"));
        }
    }

    /// <summary>Adds the segments a MOSEI pass skipped (no row in a required modality, or NaN/+inf rows).</summary>
    public void AddMosei(MoseiReport report, string stage = "mosei segments")
    {
        ArgumentNullException.ThrowIfNull(report);
        foreach (var s in report.Skipped)
        {
            Add(new BadItem(stage, $"{s.VideoId}[{s.Index}]", s.File, s.Reason));
        }
    }

    /// <summary>
    /// Adds the items a feature store build left out; <paramref name="fileOf"/> gives the source file of an item
    /// and the failing modality (null when the whole item failed).
    /// </summary>
    public void AddFeatureCache(string stage, FeatureCacheResult result, Func<string, string?, string> fileOf)
    {
        ArgumentNullException.ThrowIfNull(result);
        foreach (var s in result.Skipped)
        {
            Add(new BadItem(stage, s.Id, fileOf(s.Id, s.Modality), s.Reason));
        }
    }

    /// <summary>One console line: how many items were skipped, per stage, and where the list is.</summary>
    public string Summary(string path)
    {
        if (items.Count == 0)
        {
            return $"skipped no bad items (report: {path})";
        }
        string stages = string.Join(", ", ByStage().Select(p => $"{p.Value} {p.Key}"));
        return $"skipped {items.Count} bad item(s): {stages}; listed in {path}";
    }

    /// <summary>Writes the report as indented JSON (a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        var json = new
        {
            format = FormatName,
            command = Command,
            skipped = items.Count,
            byStage = ByStage(),
            items = items.Select(i => new
            {
                stage = i.Stage,
                id = i.Id,
                file = i.File,
                reason = i.Reason,
            }),
        };
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, new JsonSerializerOptions { WriteIndented = true }));
    }

    SortedDictionary<string, int> ByStage() =>
        new(items.GroupBy(i => i.Stage).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);
}
