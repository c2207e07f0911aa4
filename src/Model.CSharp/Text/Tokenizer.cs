namespace Research.Model.Text;

/// <summary>
/// Splits a transcript into GloVe tokens, following what the Stanford (PTB-style) tokenizer did to GloVe's
/// training text, as far as a transcript needs it:
/// <list type="number">
/// <item>Typographic apostrophes (’ ‘ ʼ ′ `) become <c>'</c>; letters are lower-cased unless
/// <see cref="LowerCase"/> is false (glove.6B and glove.42B are lower-cased, glove.840B is cased).</item>
/// <item>The text is split on white space into chunks.</item>
/// <item>Punctuation (any character that is not a letter or digit) is split off both ends of a chunk, one token per
/// run of the same character: <c>"(hello)!!"</c> → <c>( hello ) !!</c>, <c>"wait..."</c> → <c>wait ...</c>,
/// <c>"$5"</c> → <c>$ 5</c>, <c>"50%"</c> → <c>50 %</c>. Punctuation inside a chunk stays: <c>well-known</c>,
/// <c>3.5</c>, <c>1,000</c>. A final period stays on abbreviations made of letters and periods
/// (<c>u.s.</c>, <c>e.g.</c>) and on the titles mr. mrs. ms. dr. prof. st. jr. sr. vs.</item>
/// <item>Clitics are split off the end of a word, repeatedly: <c>n't</c> (<c>don't</c> → <c>do n't</c>,
/// <c>can't</c> → <c>ca n't</c>, <c>won't</c> → <c>wo n't</c>), and <c>'s 'm 'd 're 've 'll</c>
/// (<c>it's</c> → <c>it 's</c>, <c>we'll</c> → <c>we 'll</c>). A chunk that is only a clitic stays one token.
/// An apostrophe at the start or end of a word is punctuation (<c>'hello'</c> → <c>' hello '</c>,
/// <c>dogs'</c> → <c>dogs '</c>).</item>
/// </list>
/// Quotes and brackets are kept as typed (the PTB escapes <c>``</c> and <c>-lrb-</c> are not produced; GloVe has
/// vectors for the plain characters too). A transcript without tokens is an error naming the item.
/// </summary>
public sealed class Tokenizer
{
    static readonly string[] Clitics = ["n't", "'s", "'m", "'d", "'re", "'ve", "'ll"];

    static readonly HashSet<string> Titles = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "vs",
    };

    /// <summary>True (default): lower-case tokens, as glove.6B / glove.42B need; false for the cased glove.840B.</summary>
    public bool LowerCase { get; }

    /// <summary>A tokenizer; <paramref name="lowerCase"/> must match how the vectors were trained.</summary>
    public Tokenizer(bool lowerCase = true)
    {
        LowerCase = lowerCase;
    }

    /// <summary>For glove.6B (the paper's "6 billion tokens") and glove.42B: lower-cased.</summary>
    public static Tokenizer Uncased { get; } = new(lowerCase: true);

    /// <summary>For glove.840B: case kept.</summary>
    public static Tokenizer Cased { get; } = new(lowerCase: false);

    /// <summary>The tokens of <paramref name="text"/>; an empty result is an error naming <paramref name="item"/>.</summary>
    public IReadOnlyList<string> Tokenize(string text, string item = "transcript")
    {
        ArgumentNullException.ThrowIfNull(text);
        string s = TranscriptNormalizer.MapApostrophes(text);
        if (LowerCase)
        {
            s = s.ToLowerInvariant();
        }
        var tokens = new List<string>();
        foreach (string chunk in s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            AddChunk(chunk, tokens);
        }
        if (tokens.Count == 0)
        {
            throw new FormatException($"{item}: transcript has no tokens (was \"{text}\")");
        }
        return tokens;
    }

    static void AddChunk(string chunk, List<string> tokens)
    {
        if (Array.IndexOf(Clitics, chunk.ToLowerInvariant()) >= 0)
        {
            tokens.Add(chunk);
            return;
        }
        int start = 0,
            end = chunk.Length;
        // Leading punctuation, one token per run of the same character.
        while (start < end && IsPunctuation(chunk[start]))
        {
            int run = RunForward(chunk, start, end);
            tokens.Add(chunk[start..run]);
            start = run;
        }
        // Trailing punctuation, collected right to left and added after the word.
        var trailing = new List<string>();
        while (end > start && IsPunctuation(chunk[end - 1]) && !KeepsFinalPeriod(chunk, start, end))
        {
            int run = RunBackward(chunk, start, end);
            trailing.Add(chunk[run..end]);
            end = run;
        }
        if (end > start)
        {
            AddWord(chunk[start..end], tokens);
        }
        trailing.Reverse();
        tokens.AddRange(trailing);
    }

    /// <summary>Adds a word with its clitics split off the end (a word has no punctuation at either end).</summary>
    static void AddWord(string word, List<string> tokens)
    {
        var clitics = new List<string>();
        bool split = true;
        while (split)
        {
            split = false;
            foreach (string clitic in Clitics)
            {
                if (word.Length > clitic.Length && word.EndsWith(clitic, StringComparison.OrdinalIgnoreCase))
                {
                    clitics.Add(word[^clitic.Length..]);
                    word = word[..^clitic.Length];
                    split = true;
                    break;
                }
            }
        }
        tokens.Add(word);
        clitics.Reverse();
        tokens.AddRange(clitics);
    }

    /// <summary>A final period of an abbreviation (letters and periods, one inside: u.s.) or of a title (mr.) stays.</summary>
    static bool KeepsFinalPeriod(string chunk, int start, int end)
    {
        if (chunk[end - 1] != '.' || end - start < 2 || chunk[end - 2] == '.')
        {
            return false;
        }
        var word = chunk.AsSpan(start, end - start - 1);
        if (Titles.Contains(word.ToString()))
        {
            return true;
        }
        bool innerPeriod = false;
        foreach (char c in word)
        {
            if (c == '.')
            {
                innerPeriod = true;
            }
            else if (!char.IsLetter(c))
            {
                return false;
            }
        }
        return innerPeriod && char.IsLetter(word[0]);
    }

    static bool IsPunctuation(char c) => !char.IsLetterOrDigit(c);

    static int RunForward(string s, int from, int end)
    {
        int i = from + 1;
        while (i < end && s[i] == s[from])
        {
            i++;
        }
        return i;
    }

    static int RunBackward(string s, int start, int end)
    {
        int i = end - 1;
        while (i > start && s[i - 1] == s[end - 1])
        {
            i--;
        }
        return i;
    }
}
