using System.Text;

namespace Research.Model.Text;

/// <summary>
/// Characters of the ASR task. Ids 0–3 are specials (pad, start, end, unknown); characters follow in order.
/// Transcripts are lower-cased before encoding.
/// </summary>
public sealed class CharVocabulary
{
    /// <summary>Padding: ignored by the loss.</summary>
    public const int Pad = 0;

    /// <summary>Start of sequence: the decoder's first input.</summary>
    public const int Sos = 1;

    /// <summary>End of sequence: the decoder's last target.</summary>
    public const int Eos = 2;

    /// <summary>A character outside the vocabulary, when the caller allows them.</summary>
    public const int Unk = 3;

    /// <summary>Id of the first ordinary character.</summary>
    public const int FirstCharacter = 4;

    readonly Dictionary<char, int> ids;

    /// <summary>The characters, in id order from <see cref="FirstCharacter"/>.</summary>
    public string Characters { get; }

    /// <summary>Specials plus characters.</summary>
    public int Size => FirstCharacter + Characters.Length;

    /// <summary>Builds a vocabulary over distinct characters.</summary>
    public CharVocabulary(string characters)
    {
        if (characters.Length == 0 || characters.Distinct().Count() != characters.Length)
        {
            throw new ArgumentException($"characters must be non-empty and distinct: \"{characters}\"");
        }
        Characters = characters;
        ids = characters.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => FirstCharacter + p.i);
    }

    /// <summary>Space, a–z and the apostrophe: LibriSpeech-style transcripts (what the paper's Kaldi ASR emits).</summary>
    public static CharVocabulary English { get; } = new(" abcdefghijklmnopqrstuvwxyz'");

    /// <summary>
    /// Character ids of <paramref name="text"/> (lower-cased, no specials). An unknown character is an error
    /// naming <paramref name="item"/> and its position unless <paramref name="allowUnknown"/>.
    /// </summary>
    public int[] Encode(string text, string item = "transcript", bool allowUnknown = false)
    {
        string lower = text.ToLowerInvariant();
        var result = new int[lower.Length];
        for (int i = 0; i < lower.Length; i++)
        {
            if (ids.TryGetValue(lower[i], out int id))
            {
                result[i] = id;
            }
            else if (allowUnknown)
            {
                result[i] = Unk;
            }
            else
            {
                throw new FormatException(
                    $"{item}: character '{lower[i]}' (U+{(int)lower[i]:X4}) at position {i} is not in the vocabulary \"{Characters}\""
                );
            }
        }
        return result;
    }

    /// <summary>Text of ids, stopping at the first end symbol; pads and starts are skipped, unknowns shown as '?'.</summary>
    public string Decode(IEnumerable<long> tokens)
    {
        var sb = new StringBuilder();
        foreach (long t in tokens)
        {
            if (t == Eos)
            {
                break;
            }
            if (t == Pad || t == Sos)
            {
                continue;
            }
            sb.Append(t >= FirstCharacter && t < Size ? Characters[(int)t - FirstCharacter] : '?');
        }
        return sb.ToString();
    }
}
