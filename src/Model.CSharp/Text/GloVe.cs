using System.Globalization;
using System.Text;

namespace Research.Model.Text;

/// <summary>
/// Reads GloVe's text format, one <c>word v1 … vN</c> line per word, values separated by single spaces.
/// The file is streamed line by line and only the words of a given vocabulary are kept, so multi-GB files
/// (glove.840B.300d.txt is 5.6 GB) need memory for the kept vectors only.
/// <para>Each line is split from the right: the last N space-separated fields are the values and everything
/// before them is the word, so glove.840B's words that contain spaces are read whole. N is the
/// number of fields of the first line minus one (the first word of every GloVe release, "the" or ",", has no
/// space); a <c>dimension</c> argument is checked against it.</para>
/// <para>Checks: every line must have a non-empty word and N values (a line with fewer fields is an error
/// naming the file and line number); the values of kept words must be finite numbers (error names the file,
/// line, word and field). Values of words outside the vocabulary are not parsed. A word that occurs twice
/// keeps its first vector (glove.840B repeats a few words); later lines are counted in
/// <see cref="WordVectors.DuplicateLines"/>. A word2vec-style header line ("400000 300") is an error.</para>
/// </summary>
public static class GloVe
{
    /// <summary>
    /// The vectors of the words of <paramref name="vocabulary"/> (exact, case-sensitive match) found in
    /// <paramref name="path"/>; <paramref name="dimension"/>, when given, must equal the inferred dimension.
    /// </summary>
    public static WordVectors Read(string path, IReadOnlySet<string> vocabulary, int? dimension = null)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (dimension is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "the dimension must be positive");
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"GloVe file not found: {path}", path);
        }
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        int dim = 0;
        long lineNumber = 0;
        long duplicates = 0;
        long lines = 0;
        using var reader = new StreamReader(path, new UTF8Encoding(false, true), false, 1 << 20);
        string? line;
        while ((line = ReadLine(reader, path, lineNumber + 1)) != null)
        {
            lineNumber++;
            var text = line.AsSpan().TrimEnd(" \r");
            if (text.Length == 0)
            {
                throw new FormatException($"{path}: line {lineNumber} is empty; expected a word and {Describe(dim)} values");
            }
            if (lineNumber == 1)
            {
                int inferred = InferDimension(text, path);
                if (dimension is int expected && expected != inferred)
                {
                    throw new FormatException($"{path}: line 1 has {inferred} values, expected {expected}");
                }
                dim = inferred;
            }
            int wordEnd = WordEnd(text, dim);
            if (wordEnd <= 0)
            {
                int fields = text.Count(' ') + 1;
                throw new FormatException(
                    $"{path}: line {lineNumber}: expected a word and {dim} values, found {fields} field{(fields == 1 ? "" : "s")}"
                        + (wordEnd == 0 ? " (the word is empty)" : "")
                );
            }
            lines++;
            string word = text[..wordEnd].ToString();
            if (!vocabulary.Contains(word))
            {
                continue;
            }
            if (vectors.ContainsKey(word))
            {
                duplicates++;
                continue;
            }
            vectors.Add(word, ParseValues(text[(wordEnd + 1)..], dim, path, lineNumber, word));
        }
        if (dim == 0)
        {
            throw new FormatException($"{path}: the file has no lines; expected GloVe's 'word v1 … vN' lines");
        }
        return new WordVectors(dim, vectors, path, lines, duplicates);
    }

    static string? ReadLine(StreamReader reader, string path, long lineNumber)
    {
        try
        {
            return reader.ReadLine();
        }
        catch (DecoderFallbackException e)
        {
            throw new FormatException($"{path}: line {lineNumber} (or the block around it) is not valid UTF-8", e);
        }
    }

    static string Describe(int dim) => dim == 0 ? "N" : dim.ToString(CultureInfo.InvariantCulture);

    /// <summary>Fields of the first line minus one; a word2vec header ("count dim") is rejected.</summary>
    static int InferDimension(ReadOnlySpan<char> first, string path)
    {
        int fields = first.Count(' ') + 1;
        int space = first.IndexOf(' ');
        if (
            fields == 2
            && long.TryParse(first[..space], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && int.TryParse(first[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _)
        )
        {
            throw new FormatException(
                $"{path}: line 1 \"{first}\" looks like a word2vec header (count, dimension); GloVe text files have none: remove that line"
            );
        }
        if (fields < 2)
        {
            throw new FormatException($"{path}: line 1: expected a word and its values, found 1 field");
        }
        return fields - 1;
    }

    /// <summary>Index of the space before the last <paramref name="dim"/> fields; -1 when there are too few.</summary>
    static int WordEnd(ReadOnlySpan<char> text, int dim)
    {
        int end = text.Length;
        for (int k = 0; k < dim; k++)
        {
            end = text[..end].LastIndexOf(' ');
            if (end < 0)
            {
                return -1;
            }
        }
        return end;
    }

    static float[] ParseValues(ReadOnlySpan<char> values, int dim, string path, long lineNumber, string word)
    {
        var result = new float[dim];
        int i = 0;
        foreach (var range in values.Split(' '))
        {
            var field = values[range];
            if (!float.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            {
                throw new FormatException(
                    $"{path}: line {lineNumber} (word \"{word}\"): value {i + 1} of {dim} is \"{field}\", expected a finite number"
                );
            }
            result[i++] = v;
        }
        return result;
    }
}
