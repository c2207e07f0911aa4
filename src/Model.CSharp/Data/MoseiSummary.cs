using System.Text;
using System.Text.Json;

namespace Research.Model.Data;

/// <summary>Counts of a set of MOSEI segments: per fold, and per emotion the segments where it is present.</summary>
/// <param name="Segments">Segments counted.</param>
/// <param name="ByFold">Segments per fold, indexed by <see cref="MoseiFold"/>.</param>
/// <param name="Positives">Segments with intensity &gt; 0, per emotion in <see cref="MoseiSegment.Emotions"/> order.</param>
public sealed record MoseiSummary(int Segments, int[] ByFold, int[] Positives)
{
    /// <summary>Counts <paramref name="segments"/>.</summary>
    public static MoseiSummary Of(IEnumerable<MoseiSegment> segments)
    {
        int total = 0;
        var byFold = new int[3];
        var positives = new int[MoseiSegment.Emotions.Count];
        foreach (var s in segments)
        {
            total++;
            byFold[(int)s.Fold]++;
            for (int e = 0; e < positives.Length; e++)
            {
                positives[e] += s.Present[e] ? 1 : 0;
            }
        }
        return new MoseiSummary(total, byFold, positives);
    }

    /// <summary>
    /// One line of JSON: <c>{"n_segments": N, "by_fold": {"train": n, "valid": n, "test": n}, "positives": [happy, sad,
    /// anger, surprise, disgust, fear]}</c>.
    /// </summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("n_segments", Segments);
            json.WriteStartObject("by_fold");
            foreach (var fold in new[] { MoseiFold.Train, MoseiFold.Valid, MoseiFold.Test })
            {
                json.WriteNumber(MoseiFolds.Name(fold), ByFold[(int)fold]);
            }
            json.WriteEndObject();
            json.WriteStartArray("positives");
            foreach (int p in Positives)
            {
                json.WriteNumberValue(p);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
