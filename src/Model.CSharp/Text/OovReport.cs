using System.Text.Json;

namespace Research.Model.Text;

/// <summary>
/// Out-of-vocabulary counts accumulated over a corpus: tokens seen, tokens without a vector, and each distinct
/// OOV word with its count. Written as JSON (<see cref="WriteJson"/>), atomically.
/// </summary>
public sealed class OovReport
{
    readonly Dictionary<string, long> counts = new(StringComparer.Ordinal);

    /// <summary>Tokens seen.</summary>
    public long TotalTokens { get; private set; }

    /// <summary>Tokens that had no vector.</summary>
    public long OovTokens { get; private set; }

    /// <summary>OOV tokens / tokens (0 when no tokens were seen).</summary>
    public double OovRate => TotalTokens == 0 ? 0 : (double)OovTokens / TotalTokens;

    /// <summary>Distinct OOV words with their counts, most frequent first, ties in ordinal order.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Words =>
        counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();

    /// <summary>Adds one embedded item: its token count and its OOV tokens.</summary>
    public void Add(Embedding embedding)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        Add(embedding.Vectors.GetLength(0), embedding.Oov);
    }

    /// <summary>Adds <paramref name="tokens"/> tokens of which <paramref name="oov"/> had no vector.</summary>
    public void Add(long tokens, IReadOnlyCollection<string> oov)
    {
        ArgumentNullException.ThrowIfNull(oov);
        if (tokens < oov.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"fewer tokens than the {oov.Count} OOV tokens");
        }
        TotalTokens += tokens;
        OovTokens += oov.Count;
        foreach (string w in oov)
        {
            counts[w] = counts.GetValueOrDefault(w) + 1;
        }
    }

    /// <summary>Adds another report's counts (e.g. of another split or worker).</summary>
    public void Add(OovReport other)
    {
        ArgumentNullException.ThrowIfNull(other);
        TotalTokens += other.TotalTokens;
        OovTokens += other.OovTokens;
        foreach (var (w, c) in other.counts)
        {
            counts[w] = counts.GetValueOrDefault(w) + c;
        }
    }

    /// <summary>
    /// Writes <c>{"source", "total_tokens", "oov_tokens", "oov_rate", "distinct_oov_words", "oov_words": [{"word", "count"}]}</c>
    /// to a temporary file next to <paramref name="path"/>, then renames it, so no partial file is ever left.
    /// </summary>
    public void WriteJson(string path, string source = "")
    {
        string full = Path.GetFullPath(path);
        string temp = $"{full}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = File.Create(temp))
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("source", source);
                json.WriteNumber("total_tokens", TotalTokens);
                json.WriteNumber("oov_tokens", OovTokens);
                json.WriteNumber("oov_rate", OovRate);
                json.WriteNumber("distinct_oov_words", counts.Count);
                json.WriteStartArray("oov_words");
                foreach (var (w, c) in Words)
                {
                    json.WriteStartObject();
                    json.WriteString("word", w);
                    json.WriteNumber("count", c);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
