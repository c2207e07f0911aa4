namespace Research.Model.Text;

/// <summary>
/// Word vectors kept from a GloVe file (<see cref="GloVe.Read"/>): a lookup from word to a vector of
/// <see cref="Dimension"/> floats. Words are matched exactly (case-sensitive): tokenise with the case the
/// vectors were trained with (<see cref="Tokenizer"/>).
/// </summary>
public sealed class WordVectors
{
    readonly Dictionary<string, float[]> vectors;

    /// <summary>Length of every vector (300 for the paper's GloVe).</summary>
    public int Dimension { get; }

    /// <summary>The file the vectors came from (or a description).</summary>
    public string Source { get; }

    /// <summary>Lines (words) the source file had.</summary>
    public long SourceWords { get; }

    /// <summary>Lines skipped because their word, one of the requested vocabulary, occurred earlier (first wins).</summary>
    public long DuplicateLines { get; }

    /// <summary>Vectors kept.</summary>
    public int Count => vectors.Count;

    /// <summary>Words that have a vector.</summary>
    public IEnumerable<string> Words => vectors.Keys;

    /// <summary>Vectors from a dictionary; every vector must have <paramref name="dimension"/> values.</summary>
    public WordVectors(
        int dimension,
        IReadOnlyDictionary<string, float[]> vectors,
        string source = "memory",
        long sourceWords = 0,
        long duplicateLines = 0
    )
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        this.vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (word, v) in vectors)
        {
            if (v.Length != dimension)
            {
                throw new ArgumentException($"{source}: the vector of \"{word}\" has {v.Length} values, expected {dimension}");
            }
            this.vectors.Add(word, v);
        }
        Dimension = dimension;
        Source = source;
        SourceWords = sourceWords;
        DuplicateLines = duplicateLines;
    }

    /// <summary>True when <paramref name="word"/> has a vector.</summary>
    public bool Contains(string word) => vectors.ContainsKey(word);

    /// <summary>A copy of the vector of <paramref name="word"/>, or null when it has none.</summary>
    public float[]? Vector(string word) => vectors.TryGetValue(word, out var v) ? (float[])v.Clone() : null;

    /// <summary>
    /// One row per token: its vector, or zeros for a token without one (out of vocabulary). The OOV tokens are
    /// listed in order of occurrence, repeats included, so <c>Oov.Count</c> is the number of zero rows.
    /// </summary>
    public Embedding Embed(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var rows = new float[tokens.Count, Dimension];
        var oov = new List<string>();
        for (int t = 0; t < tokens.Count; t++)
        {
            if (vectors.TryGetValue(tokens[t], out var v))
            {
                Buffer.BlockCopy(v, 0, rows, t * Dimension * sizeof(float), Dimension * sizeof(float));
            }
            else
            {
                oov.Add(tokens[t]);
            }
        }
        return new Embedding(rows, oov);
    }
}

/// <summary>Vectors (tokens, dimension) of a token sequence, and its out-of-vocabulary tokens in order.</summary>
public sealed record Embedding(float[,] Vectors, IReadOnlyList<string> Oov);
