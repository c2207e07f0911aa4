using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using Research.Model.Data;

namespace Research.Model.Audio;

/// <summary>
/// Global mean and variance of feature columns accumulated over many utterances (Chan et al.'s parallel update of
/// count, mean and sum of squared deviations, stable for any number of frames), applied as (x - mean) / std.
/// Saved as JSON: {"format": "cmvn-stats/1", "dim": D, "count": N, "mean": [...], "variance": [...]}.
/// </summary>
public sealed class CmvnStats
{
    const string FormatName = "cmvn-stats/1";

    readonly double[] mean;
    readonly double[] squares; // sum of squared deviations from the mean (M2)

    /// <summary>Empty statistics of <paramref name="dim"/> columns.</summary>
    public CmvnStats(int dim)
    {
        if (dim < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), dim, "the feature dimension must be at least 1");
        }
        mean = new double[dim];
        squares = new double[dim];
    }

    /// <summary>Number of feature columns.</summary>
    public int Dim => mean.Length;

    /// <summary>Frames accumulated so far.</summary>
    public long Count { get; private set; }

    /// <summary>Mean of each column.</summary>
    public double[] Mean => (double[])mean.Clone();

    /// <summary>Population variance of each column (0 before any frame).</summary>
    public double[] Variance => squares.Select(s => Count > 0 ? s / Count : 0.0).ToArray();

    /// <summary>Adds the frames (T, D) of one utterance.</summary>
    /// <exception cref="ArgumentException">D differs from <see cref="Dim"/>; the message names <paramref name="item"/>.</exception>
    public void Add(float[,] frames, string item = "features")
    {
        ArgumentNullException.ThrowIfNull(frames);
        CheckDim(frames, item);
        int t = frames.GetLength(0);
        if (t == 0)
        {
            return;
        }
        var batchMean = new double[Dim];
        var batchSquares = new double[Dim];
        for (int i = 0; i < t; i++)
        {
            for (int d = 0; d < Dim; d++)
            {
                batchMean[d] += frames[i, d];
            }
        }
        for (int d = 0; d < Dim; d++)
        {
            batchMean[d] /= t;
        }
        for (int i = 0; i < t; i++)
        {
            for (int d = 0; d < Dim; d++)
            {
                double x = frames[i, d] - batchMean[d];
                batchSquares[d] += x * x;
            }
        }
        long total = Count + t;
        for (int d = 0; d < Dim; d++)
        {
            double delta = batchMean[d] - mean[d];
            mean[d] += delta * t / total;
            squares[d] += batchSquares[d] + delta * delta * ((double)Count * t / total);
        }
        Count = total;
    }

    /// <summary>Returns (x - mean) / std per column; constant columns are only centred (see <see cref="Cmvn"/>).</summary>
    /// <exception cref="InvalidOperationException">No frames were added.</exception>
    /// <exception cref="ArgumentException">The dimension differs; the message names <paramref name="item"/>.</exception>
    public float[,] Apply(float[,] frames, string item = "features")
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (Count == 0)
        {
            throw new InvalidOperationException("CMVN statistics are empty: add frames before applying them");
        }
        CheckDim(frames, item);
        var scale = new double[Dim];
        for (int d = 0; d < Dim; d++)
        {
            scale[d] = Cmvn.InverseStd(mean[d], squares[d] / Count);
        }
        int t = frames.GetLength(0);
        var result = new float[t, Dim];
        for (int i = 0; i < t; i++)
        {
            for (int d = 0; d < Dim; d++)
            {
                result[i, d] = (float)((frames[i, d] - mean[d]) * scale[d]);
            }
        }
        return result;
    }

    /// <summary>Writes the statistics as JSON (atomically: a temporary file renamed into place).</summary>
    public void Save(string path)
    {
        var json = new JsonObject
        {
            ["format"] = FormatName,
            ["dim"] = Dim,
            ["count"] = Count,
            ["mean"] = new JsonArray(mean.Select(v => (JsonNode?)v).ToArray()),
            ["variance"] = new JsonArray(Variance.Select(v => (JsonNode?)v).ToArray()),
        };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads statistics written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not such a JSON file; the message names it and the field.</exception>
    public static CmvnStats Load(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
        if (root is not JsonObject o || (string?)o["format"] != FormatName)
        {
            throw new InvalidDataException($"{path}: expected a JSON object with \"format\": \"{FormatName}\"");
        }
        int dim = Number<int>(o, "dim", path);
        long count = Number<long>(o, "count", path);
        double[] m = Numbers(o, "mean", path);
        double[] variance = Numbers(o, "variance", path);
        if (dim < 1 || m.Length != dim || variance.Length != dim)
        {
            throw new InvalidDataException(
                $"{path}: \"dim\" is {dim} but \"mean\" has {m.Length} and \"variance\" {variance.Length} values"
            );
        }
        if (count < 0 || variance.Any(v => !(v >= 0 && double.IsFinite(v))) || m.Any(v => !double.IsFinite(v)))
        {
            throw new InvalidDataException($"{path}: \"count\" must be >= 0, \"mean\" finite and \"variance\" finite and >= 0");
        }
        var stats = new CmvnStats(dim) { Count = count };
        m.CopyTo(stats.mean, 0);
        for (int d = 0; d < dim; d++)
        {
            stats.squares[d] = variance[d] * count;
        }
        return stats;
    }

    static T Number<T>(JsonObject o, string key, string path) =>
        o[key] is JsonValue v && v.TryGetValue(out T? x) && x is not null
            ? x
            : throw new InvalidDataException($"{path}: \"{key}\" is missing or not a {typeof(T).Name} number");

    static double[] Numbers(JsonObject o, string key, string path) =>
        o[key] is JsonArray a
            ? a.Select(v =>
                    v is JsonValue n && n.TryGetValue(out double x)
                        ? x
                        : throw new InvalidDataException($"{path}: \"{key}\" holds a non-number")
                )
                .ToArray()
            : throw new InvalidDataException($"{path}: \"{key}\" is missing or not an array of numbers");

    void CheckDim(float[,] frames, string item)
    {
        if (frames.GetLength(1) != Dim)
        {
            throw new ArgumentException($"{item}: frames have {frames.GetLength(1)} columns, the CMVN statistics {Dim}");
        }
    }
}
