using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Research.Model.Data;
using Research.Model.Models;

namespace Research.Model.Training;

/// <summary>
/// A run's metrics as JSON lines (log.jsonl), one object per line, written by a single write each and handed to the
/// OS at once, so a killed process loses at most the line being written. Two kinds of line:
/// <code>
/// {"kind":"step","step":12,"epoch":0,"time":"…","loss":2.31,"loss_asr":2.6,"loss_speaker":1.1,"lr":0.0001,"grad_norm":3.2,"ms":812.5,"items_per_s":9.8}
/// {"kind":"eval","step":12,"split":"valid","time":"…","metrics":{"f1":0.61,"wa":0.64}}
/// </code>
/// Each loss term has its own key (<c>loss</c> is the weighted total; a task with weight 0 has no key). NaN and
/// ±Infinity are written as the strings "NaN", "Infinity", "-Infinity". Step lines must have increasing steps: a
/// resumed run first drops what came after its checkpoint with <see cref="TruncateAfter"/>.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    const byte NewLine = (byte)'\n';

    static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    readonly object gate = new();
    readonly TimeProvider clock;
    FileStream? stream;
    string? closed;
    long lastStep;

    MetricsLog(string path, TimeProvider clock)
    {
        Path = System.IO.Path.GetFullPath(path);
        this.clock = clock;
        if (File.Exists(Path))
        {
            var lines = Scan(Path, File.ReadAllBytes(Path));
            lastStep = MaxStep(lines.Kept);
            if (lines.Torn)
            {
                Rewrite(lines.Kept);
            }
        }
        stream = OpenAppend();
    }

    /// <summary>The log file.</summary>
    public string Path { get; }

    /// <summary>The last step line's step (0 when there is none).</summary>
    public long LastStep
    {
        get
        {
            lock (gate)
            {
                return lastStep;
            }
        }
    }

    /// <summary>
    /// Opens a log for appending, creating it when absent. A torn last line (no final newline: the writer was
    /// killed mid-line) is dropped first, atomically; a malformed line elsewhere is an error naming the line.
    /// </summary>
    /// <param name="path">the log file</param>
    /// <param name="clock">the time stamps' source (default: the system clock)</param>
    public static MetricsLog Open(string path, TimeProvider? clock = null) => new(path, clock ?? TimeProvider.System);

    /// <summary>
    /// Writes one step line: every loss term on its own (null terms omitted), learning rate, gradient norm, milliseconds,
    /// epoch, items per second, and the model's learned values when it has any (e.g. <c>modality_weight_audio</c>).
    /// </summary>
    public void Step(StepResult result, int epoch, double itemsPerSecond)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (gate)
        {
            if (result.Step <= lastStep)
            {
                throw new InvalidOperationException(
                    $"{Path}: step {result.Step} comes after step {lastStep} in the log; "
                        + "a resumed run calls TruncateAfter(checkpoint step) before logging again"
                );
            }
            Append(w =>
            {
                w.WriteString("kind", "step");
                w.WriteNumber("step", result.Step);
                w.WriteNumber("epoch", epoch);
                w.WriteString("time", clock.GetUtcNow());
                Number(w, "loss", result.Total);
                OptionalNumber(w, "loss_asr", result.Asr);
                OptionalNumber(w, "loss_speaker", result.Speaker);
                OptionalNumber(w, "loss_emotion", result.Emotion);
                Number(w, "lr", result.LearningRate);
                Number(w, "grad_norm", result.GradNorm);
                Number(w, "ms", result.Milliseconds);
                Number(w, "items_per_s", itemsPerSecond);
                foreach (var (name, value) in result.Values ?? new Dictionary<string, double>())
                {
                    Number(w, name, value);
                }
            });
            lastStep = result.Step;
        }
    }

    /// <summary>Writes one evaluation line: the step it followed, the split ("valid", "test", ...) and each metric.</summary>
    public void Evaluation(long step, IReadOnlyDictionary<string, double> metrics, string split)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentException.ThrowIfNullOrWhiteSpace(split);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        lock (gate)
        {
            Append(w =>
            {
                w.WriteString("kind", "eval");
                w.WriteNumber("step", step);
                w.WriteString("split", split);
                w.WriteString("time", clock.GetUtcNow());
                w.WriteStartObject("metrics");
                foreach (var (name, value) in metrics)
                {
                    Number(w, name, value);
                }
                w.WriteEndObject();
            });
        }
    }

    /// <summary>
    /// Keeps exactly the lines whose step is at most <paramref name="step"/> (and drops a torn last line), replacing
    /// the file atomically. Called when a run resumes from its checkpoint at that step. Returns the lines dropped.
    /// </summary>
    public int TruncateAfter(long step)
    {
        lock (gate)
        {
            ThrowIfClosed();
            stream!.Dispose();
            stream = null;
            try
            {
                var lines = Scan(Path, File.Exists(Path) ? File.ReadAllBytes(Path) : []);
                var kept = lines.Kept.FindAll(l => l.Step <= step);
                int dropped = lines.Kept.Count - kept.Count + (lines.Torn ? 1 : 0);
                if (dropped > 0)
                {
                    Rewrite(kept);
                }
                lastStep = MaxStep(kept);
                return dropped;
            }
            finally
            {
                stream = OpenAppend();
            }
        }
    }

    /// <summary>
    /// Reads a log: its step and evaluation lines in order. A torn last line is left out (and reported); a malformed
    /// line elsewhere is an error naming the file and the line. The log may be open for writing meanwhile.
    /// </summary>
    public static MetricsLogContents Read(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        byte[] data;
        using (var s = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            using var copy = new MemoryStream();
            s.CopyTo(copy);
            data = copy.ToArray();
        }
        var lines = Scan(full, data);
        var steps = new List<StepEntry>();
        var evaluations = new List<EvaluationEntry>();
        foreach (var line in lines.Kept)
        {
            switch (line.Entry)
            {
                case StepEntry s:
                    steps.Add(s);
                    break;
                case EvaluationEntry e:
                    evaluations.Add(e);
                    break;
            }
        }
        return new MetricsLogContents(steps, evaluations, lines.Torn);
    }

    /// <summary>Closes the log for good; later writes throw an error saying <paramref name="reason"/>.</summary>
    internal void Close(string reason)
    {
        lock (gate)
        {
            stream?.Dispose();
            stream = null;
            closed ??= reason;
        }
    }

    /// <summary>Closes the file; later writes throw.</summary>
    public void Dispose() => Close("the log has been disposed");

    void ThrowIfClosed()
    {
        if (closed is not null)
        {
            throw new InvalidOperationException($"{Path}: cannot write: {closed}");
        }
    }

    void Append(Action<Utf8JsonWriter> body)
    {
        ThrowIfClosed();
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.Write([NewLine]);
        // One write of the whole line, unbuffered: the OS has it when this returns.
        stream!.Write(buffer.WrittenSpan);
        stream.Flush();
    }

    FileStream OpenAppend() => new(Path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);

    void Rewrite(List<Line> lines) =>
        AtomicFile.Write(
            Path,
            s =>
            {
                foreach (var line in lines)
                {
                    s.Write(line.Bytes.Span);
                }
            }
        );

    static long MaxStep(List<Line> lines)
    {
        long last = 0;
        foreach (var line in lines)
        {
            if (line.Entry is StepEntry s)
            {
                last = Math.Max(last, s.Step);
            }
        }
        return last;
    }

    static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteString(name, value.ToString(CultureInfo.InvariantCulture));
        }
    }

    static void OptionalNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v)
        {
            Number(w, name, v);
        }
    }

    /// <summary>A complete line (with its newline) and what it holds.</summary>
    sealed record Line(ReadOnlyMemory<byte> Bytes, long Step, object Entry);

    /// <summary>The complete lines of a log, and whether bytes after the last newline (a torn line) were left out.</summary>
    sealed record Lines(List<Line> Kept, bool Torn);

    static Lines Scan(string path, byte[] data)
    {
        var kept = new List<Line>();
        int start = 0;
        int number = 0;
        while (start < data.Length)
        {
            int end = Array.IndexOf(data, NewLine, start);
            if (end < 0)
            {
                return new Lines(kept, true);
            }
            number++;
            var bytes = new ReadOnlyMemory<byte>(data, start, end + 1 - start);
            object entry = Parse(bytes[..^1], $"{path}, line {number}");
            kept.Add(new Line(bytes, entry is StepEntry s ? s.Step : ((EvaluationEntry)entry).Step, entry));
            start = end + 1;
        }
        return new Lines(kept, false);
    }

    static object Parse(ReadOnlyMemory<byte> json, string where)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var o = document.RootElement;
            if (o.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where}: expected a JSON object, found {o.ValueKind}");
            }
            string kind = Text(o, "kind", where);
            return kind switch
            {
                "step" => new StepEntry(
                    new StepResult(
                        Integer(o, "step", where),
                        Real(o, "lr", where),
                        Real(o, "loss", where),
                        OptionalReal(o, "loss_asr", where),
                        OptionalReal(o, "loss_speaker", where),
                        OptionalReal(o, "loss_emotion", where),
                        Real(o, "grad_norm", where),
                        Real(o, "ms", where),
                        LoggedValues(o, where)
                    ),
                    checked((int)Integer(o, "epoch", where)),
                    Real(o, "items_per_s", where),
                    Time(o, where)
                ),
                "eval" => new EvaluationEntry(Integer(o, "step", where), Text(o, "split", where), Metrics(o, where), Time(o, where)),
                _ => throw new InvalidDataException($"{where}: unknown kind '{kind}' (expected 'step' or 'eval')"),
            };
        }
    }

    /// <summary>A step line's learned values (keys starting with <see cref="MultiTaskModel.ModalityWeightPrefix"/>), or null.</summary>
    static Dictionary<string, double>? LoggedValues(JsonElement o, string where)
    {
        Dictionary<string, double>? values = null;
        foreach (var p in o.EnumerateObject())
        {
            if (p.Name.StartsWith(MultiTaskModel.ModalityWeightPrefix, StringComparison.Ordinal))
            {
                (values ??= [])[p.Name] = RealValue(p.Value, p.Name, where);
            }
        }
        return values;
    }

    static JsonElement Required(JsonElement o, string key, string where) =>
        o.TryGetProperty(key, out var v) ? v : throw new InvalidDataException($"{where}: missing key '{key}'");

    static string Text(JsonElement o, string key, string where)
    {
        var v = Required(o, key, where);
        return v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new InvalidDataException($"{where}: '{key}' should be a string, found {v.ValueKind}");
    }

    static long Integer(JsonElement o, string key, string where)
    {
        var v = Required(o, key, where);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n)
            ? n
            : throw new InvalidDataException($"{where}: '{key}' should be an integer, found {v.GetRawText()}");
    }

    static double Real(JsonElement o, string key, string where) => RealValue(Required(o, key, where), key, where);

    static double? OptionalReal(JsonElement o, string key, string where) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? RealValue(v, key, where) : null;

    static double RealValue(JsonElement v, string key, string where) =>
        v.ValueKind switch
        {
            JsonValueKind.Number => v.GetDouble(),
            JsonValueKind.String when v.GetString() is "NaN" or "Infinity" or "-Infinity" => double.Parse(
                v.GetString()!,
                CultureInfo.InvariantCulture
            ),
            _ => throw new InvalidDataException($"{where}: '{key}' should be a number, found {v.GetRawText()}"),
        };

    static DateTimeOffset Time(JsonElement o, string where)
    {
        var v = Required(o, "time", where);
        return v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var t)
            ? t
            : throw new InvalidDataException($"{where}: 'time' should be an ISO 8601 time, found {v.GetRawText()}");
    }

    static Dictionary<string, double> Metrics(JsonElement o, string where)
    {
        var v = Required(o, "metrics", where);
        if (v.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{where}: 'metrics' should be an object, found {v.ValueKind}");
        }
        var metrics = new Dictionary<string, double>();
        foreach (var p in v.EnumerateObject())
        {
            metrics[p.Name] = RealValue(p.Value, $"metrics.{p.Name}", where);
        }
        return metrics;
    }
}
