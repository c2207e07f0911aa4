using System.Text;
using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>Where a run stands: the step done, its seed and resolved config, and the best evaluation so far.</summary>
public sealed record TrainerState
{
    /// <summary>Steps completed.</summary>
    public long Step { get; init; }

    /// <summary>The run's seed (data order and initialisation).</summary>
    public int Seed { get; init; }

    /// <summary>The resolved configuration the run started with (JSON).</summary>
    public string Config { get; init; } = "";

    /// <summary>Best selection score so far (higher is better), and the step it came from.</summary>
    public double? BestScore { get; init; }

    /// <summary>Step of <see cref="BestScore"/>.</summary>
    public long BestStep { get; init; }

    /// <summary>The most recent evaluation.</summary>
    public IReadOnlyDictionary<string, double> LastEvaluation { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// One file holding everything needed to continue a run exactly: the trainer state (JSON), torch's random-number
/// state, the model's weights and the optimiser's state. Written to a temporary file, flushed to disk and renamed,
/// so a process killed at any moment leaves the previous checkpoint or the new one, never half of one.
/// Layout: "RCKPT001", state JSON (length-prefixed UTF-8), RNG state (length-prefixed bytes), the module in
/// TorchSharp's format, the optimiser state in TorchSharp's format.
/// </summary>
public static class Checkpoint
{
    const string Magic = "RCKPT001";

    /// <summary>Writes a checkpoint atomically.</summary>
    public static void Save(string path, TrainerState state, nn.Module model, OptimizerHelper optimizer)
    {
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Encoding.ASCII.GetBytes(Magic));
                writer.Write(JsonSerializer.Serialize(state));
                var rng = get_rng_state();
                var bytes = rng.data<byte>().ToArray();
                writer.Write(bytes.Length);
                writer.Write(bytes);
                model.save(writer);
                optimizer.save_state_dict(writer);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Deletes temporary files a killed writer of <paramref name="path"/> left behind (<c>path.PID.tmp</c>). Call it
    /// before a run starts or resumes; nothing else writes those names.
    /// </summary>
    public static void RemoveStaleTemporaries(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is null || !Directory.Exists(dir))
        {
            return;
        }
        foreach (var stale in Directory.GetFiles(dir, Path.GetFileName(path) + ".*.tmp"))
        {
            File.Delete(stale);
        }
    }

    /// <summary>The trainer state of a checkpoint, without loading weights.</summary>
    public static TrainerState ReadState(string path)
    {
        using var reader = Open(path);
        return ReadHeader(reader, path);
    }

    /// <summary>
    /// Restores a checkpoint into <paramref name="model"/> and <paramref name="optimizer"/> (when given) and torch's
    /// random-number state. When <paramref name="expectedConfig"/> is given, a checkpoint made with another config is
    /// an error naming the differing keys.
    /// </summary>
    public static TrainerState Load(string path, nn.Module model, OptimizerHelper? optimizer, string? expectedConfig)
    {
        using var reader = Open(path);
        var state = ReadHeader(reader, path);
        if (expectedConfig is not null && state.Config != expectedConfig)
        {
            throw new InvalidDataException(
                $"{path}: the checkpoint was made with another configuration ({Differences(state.Config, expectedConfig)})"
            );
        }
        int n = reader.ReadInt32();
        var rng = reader.ReadBytes(n);
        try
        {
            model.load(reader);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{path}: the checkpoint's weights do not fit the model: {e.Message}", e);
        }
        if (optimizer is not null)
        {
            optimizer.load_state_dict(reader);
            set_rng_state(tensor(rng));
        }
        return state;
    }

    static BinaryReader Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        return new BinaryReader(File.OpenRead(path), Encoding.UTF8);
    }

    static TrainerState ReadHeader(BinaryReader reader, string path)
    {
        try
        {
            var magic = Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length));
            if (magic != Magic)
            {
                throw new InvalidDataException($"{path}: not a checkpoint of this project (starts with '{magic}')");
            }
            return JsonSerializer.Deserialize<TrainerState>(reader.ReadString())
                ?? throw new InvalidDataException($"{path}: empty trainer state");
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: truncated checkpoint", e);
        }
    }

    /// <summary>Top-level JSON keys whose values differ, for error messages.</summary>
    public static string Differences(string a, string b)
    {
        try
        {
            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            var left = x.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
            var right = y.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
            var keys = left
                .Keys.Union(right.Keys)
                .Where(k => !left.TryGetValue(k, out var l) || !right.TryGetValue(k, out var r) || l != r);
            return "differs in: " + string.Join(", ", keys.Order(StringComparer.Ordinal));
        }
        catch (JsonException)
        {
            return "configs are not comparable JSON objects";
        }
    }
}
