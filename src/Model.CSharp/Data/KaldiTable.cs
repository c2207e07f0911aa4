namespace Research.Model.Data;

/// <summary>One line of a Kaldi table file: the key, the rest of the line (trimmed) and the 1-based line number.</summary>
internal readonly record struct KaldiLine(string Key, string Value, int Line);

/// <summary>
/// Reads and writes Kaldi table files (<c>key value…</c> per line: <c>wav.scp</c>, <c>text</c>, <c>utt2spk</c>, …).
/// The key runs to the first space or tab; the value is the rest of the line, trimmed.
/// </summary>
internal static class KaldiTable
{
    static readonly char[] Whitespace = [' ', '\t'];

    /// <summary>
    /// The lines of <paramref name="path"/> keyed by their first field, in file order. An empty line, a missing value
    /// (unless <paramref name="valueRequired"/> is false), a NUL byte and a repeated key are errors naming the file and line.
    /// </summary>
    public static List<KaldiLine> Read(string path, bool valueRequired, string expected)
    {
        var lines = new List<KaldiLine>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim(' ', '\t', '\r');
            if (line.Length == 0)
            {
                throw Error(path, number, $"empty line; expected '{expected}'");
            }
            int nul = line.IndexOf('\0');
            if (nul >= 0)
            {
                // A NUL byte is no text (and no path: .NET refuses it in one): a binary or damaged file.
                throw Error(path, number, $"a NUL byte at column {nul + 1}; expected text '{expected}' (a binary or damaged file?)");
            }
            int split = line.IndexOfAny(Whitespace);
            string key = split < 0 ? line : line[..split];
            string value = split < 0 ? "" : line[(split + 1)..].Trim(' ', '\t');
            if (valueRequired && value.Length == 0)
            {
                throw Error(path, number, $"'{key}' has nothing after it; expected '{expected}'");
            }
            if (seen.TryGetValue(key, out int first))
            {
                throw Error(path, number, $"duplicate key '{key}' (first on line {first})");
            }
            seen.Add(key, number);
            lines.Add(new KaldiLine(key, value, number));
        }
        return lines;
    }

    /// <summary>The fields of a value separated by spaces or tabs.</summary>
    public static string[] Fields(string value) => value.Split(Whitespace, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>An error at a line of a file: <c>path:line: what</c>.</summary>
    public static InvalidDataException Error(string path, int line, string what) => new($"{path}:{line}: {what}");

    /// <summary>Up to <paramref name="limit"/> items, comma-separated, with the total when there are more.</summary>
    public static string Examples(IReadOnlyCollection<string> items, int limit = 10)
    {
        string shown = string.Join(", ", items.Take(limit));
        return items.Count > limit ? $"{shown}, … ({items.Count} in all)" : shown;
    }

    /// <summary>Whether a token is usable as a Kaldi key or speaker: non-empty, no whitespace or control characters.</summary>
    public static bool IsToken(string s) => s.Length > 0 && !s.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));
}
