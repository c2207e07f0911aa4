using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Research.Model.Data;

namespace Research.Model.Audio;

/// <summary>
/// Global mean and variance of feature columns accumulated over many utterances (Chan et al.'s parallel update of
/// count, mean and sum of squared deviations, stable for any number of frames), applied as (x - mean) / std.
/// Saved as JSON: {"format": "cmvn-stats/1", "dim": D, "count": N, "utterances": U, "mean": [...], "variance": [...],
/// "about": {...}}; "utterances" and "about" (where the statistics come from, e.g. which split) are optional.
/// </summary>
public sealed class CmvnStats
{
    const string FormatName = "cmvn-stats/1";

    readonly double[] mean;
    readonly double[] squares; // sum of squared deviations from the mean (M2)
    double[]? loadedVariance; // the variances as read by Parse, until the next Add: a load-save-load round trip is exact

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

    /// <summary>Utterances (calls of <see cref="Add"/>) accumulated so far.</summary>
    public long Utterances { get; private set; }

    /// <summary>Where the statistics come from (saved with them), e.g. the split and the data dir.</summary>
    public IReadOnlyDictionary<string, string> About { get; private set; } = new Dictionary<string, string>();

    /// <summary>Mean of each column.</summary>
    public double[] Mean => (double[])mean.Clone();

    /// <summary>Population variance of each column (0 before any frame).</summary>
    public double[] Variance => (double[]?)loadedVariance?.Clone() ?? squares.Select(s => Count > 0 ? s / Count : 0.0).ToArray();

    /// <summary>Adds the frames (T, D) of one utterance.</summary>
    /// <exception cref="ArgumentException">D differs from <see cref="Dim"/>; the message names <paramref name="item"/>.</exception>
    public void Add(float[,] frames, string item = "features")
    {
        ArgumentNullException.ThrowIfNull(frames);
        CheckDim(frames, item);
        Utterances++;
        loadedVariance = null;
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
        var variance = Variance;
        var scale = new double[Dim];
        for (int d = 0; d < Dim; d++)
        {
            scale[d] = Cmvn.InverseStd(mean[d], variance[d]);
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

    /// <summary>
    /// The statistics as JSON text (see the class summary), with <paramref name="about"/> (or <see cref="About"/>)
    /// as "about". Means and variances are written so that they read back to the same doubles.
    /// </summary>
    public string ToJson(IReadOnlyDictionary<string, string>? about = null)
    {
        var info = new JsonObject();
        foreach (var (k, v) in about ?? About)
        {
            info[k] = v;
        }
        var json = new JsonObject
        {
            ["format"] = FormatName,
            ["dim"] = Dim,
            ["count"] = Count,
            ["utterances"] = Utterances,
            ["mean"] = new JsonArray(mean.Select(v => (JsonNode?)v).ToArray()),
            ["variance"] = new JsonArray(Variance.Select(v => (JsonNode?)v).ToArray()),
            ["about"] = info,
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Writes the statistics as JSON (atomically: a temporary file renamed into place).</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? about = null)
    {
        string text = ToJson(about);
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// A digest of what <see cref="Apply"/> does (dimension, count, means and variances, as exact doubles): part of
    /// the fingerprint of features normalised with these statistics, so that changed statistics recompute them.
    /// </summary>
    public string Fingerprint()
    {
        var text = new StringBuilder().Append(Dim).Append(' ').Append(Count);
        foreach (double v in mean.Concat(Variance))
        {
            text.Append(' ').Append(BitConverter.DoubleToInt64Bits(v));
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Reads statistics from JSON text (<paramref name="path"/> names the source in errors).</summary>
    public static CmvnStats Parse(string text, string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
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
        var stats = new CmvnStats(dim)
        {
            Count = count,
            Utterances = o["utterances"] is null ? 0 : Number<long>(o, "utterances", path),
            About = o["about"] is JsonObject about
                ? about.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "")
                : new Dictionary<string, string>(),
        };
        m.CopyTo(stats.mean, 0);
        for (int d = 0; d < dim; d++)
        {
            stats.squares[d] = variance[d] * count;
        }
        stats.loadedVariance = variance;
        return stats;
    }

    /// <summary>Reads statistics written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not such a JSON file; the message names it and the field.</exception>
    public static CmvnStats Load(string path) => Parse(File.ReadAllText(path), path);

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
