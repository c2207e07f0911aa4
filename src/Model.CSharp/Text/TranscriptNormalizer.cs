using System.Text;

namespace Research.Model.Text;

/// <summary>
/// Brings a transcript into the character set of the ASR targets (<see cref="CharVocabulary"/>):
/// typographic apostrophes (’ ‘ ʼ ′ `) become <c>'</c>, letters are lower-cased, every run of white space
/// becomes one space and the ends are trimmed. A character outside the vocabulary is an error naming the item
/// and the character, or (opt-in) is dropped; an empty result is an error.
/// </summary>
public sealed class TranscriptNormalizer
{
    /// <summary>The vocabulary the output must fit.</summary>
    public CharVocabulary Vocabulary { get; }

    /// <summary>True: drop characters outside the vocabulary; false (default): reject them.</summary>
    public bool DropUnknown { get; }

    /// <summary>A normaliser for <paramref name="vocabulary"/> (default <see cref="CharVocabulary.English"/>).</summary>
    public TranscriptNormalizer(CharVocabulary? vocabulary = null, bool dropUnknown = false)
    {
        Vocabulary = vocabulary ?? CharVocabulary.English;
        if (!Vocabulary.Characters.Contains(' '))
        {
            throw new ArgumentException($"the vocabulary \"{Vocabulary.Characters}\" has no space to separate words");
        }
        DropUnknown = dropUnknown;
    }

    /// <summary>The normalised transcript of <paramref name="text"/>; errors name <paramref name="item"/>.</summary>
    public string Normalize(string text, string item = "transcript")
    {
        ArgumentNullException.ThrowIfNull(text);
        string mapped = MapApostrophes(text).ToLowerInvariant();
        var sb = new StringBuilder(mapped.Length);
        bool pendingSpace = false;
        for (int i = 0; i < mapped.Length; i++)
        {
            char c = mapped[i];
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (!Vocabulary.Characters.Contains(c))
            {
                if (DropUnknown)
                {
                    continue;
                }
                throw new FormatException(
                    $"{item}: character '{c}' (U+{(int)c:X4}) at position {i} is not in the vocabulary \"{Vocabulary.Characters}\""
                        + " (pass dropUnknown: true to drop such characters)"
                );
            }
            if (pendingSpace)
            {
                sb.Append(' ');
                pendingSpace = false;
            }
            sb.Append(c);
        }
        if (sb.Length == 0)
        {
            throw new FormatException($"{item}: transcript is empty after normalisation (was \"{text}\")");
        }
        return sb.ToString();
    }

    /// <summary>Replaces typographic apostrophes and quote-like marks used as apostrophes (’ ‘ ʼ ′ `) by <c>'</c>.</summary>
    public static string MapApostrophes(string text)
    {
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (chars[i] is '\u2019' or '\u2018' or '\u02BC' or '\u2032' or '`')
            {
                chars[i] = '\'';
            }
        }
        return new string(chars);
    }
}
