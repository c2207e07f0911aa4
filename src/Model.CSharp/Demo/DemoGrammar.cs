namespace Research.Model.Demo;

/// <summary>
/// Sentences for the demo corpora from a small grammar over a few hundred words: subject, verb, object,
/// optional place and time, in several templates. Transcripts use only lower-case letters, spaces and
/// apostrophes (the ASR vocabulary). Emotion cue phrases come from one small lexicon per emotion.
/// </summary>
public static class DemoGrammar
{
    static readonly string[] Names =
    [
        "anna",
        "ben",
        "carla",
        "david",
        "elena",
        "frank",
        "grace",
        "henry",
        "irene",
        "jack",
        "kate",
        "leo",
        "maria",
        "nick",
        "olga",
        "peter",
        "rosa",
        "sam",
        "tina",
        "victor",
    ];

    static readonly string[] Adjectives =
    [
        "small",
        "large",
        "old",
        "new",
        "red",
        "blue",
        "green",
        "yellow",
        "quiet",
        "loud",
        "bright",
        "dark",
        "warm",
        "cold",
        "heavy",
        "light",
        "long",
        "short",
        "round",
        "square",
        "wooden",
        "metal",
        "empty",
        "full",
        "clean",
        "dusty",
        "young",
        "ancient",
        "modern",
        "simple",
        "strange",
        "famous",
        "local",
        "distant",
        "narrow",
        "wide",
        "soft",
        "hard",
        "sweet",
        "sour",
        "fresh",
        "tired",
        "busy",
        "lazy",
        "clever",
        "careful",
        "early",
        "late",
    ];

    static readonly string[] Nouns =
    [
        "book",
        "table",
        "window",
        "garden",
        "river",
        "mountain",
        "street",
        "car",
        "train",
        "bridge",
        "house",
        "kitchen",
        "letter",
        "phone",
        "camera",
        "picture",
        "song",
        "story",
        "teacher",
        "doctor",
        "farmer",
        "student",
        "driver",
        "painter",
        "market",
        "station",
        "office",
        "library",
        "museum",
        "village",
        "city",
        "forest",
        "island",
        "beach",
        "boat",
        "bicycle",
        "computer",
        "keyboard",
        "chair",
        "lamp",
        "clock",
        "door",
        "key",
        "bag",
        "coat",
        "hat",
        "shoe",
        "cup",
        "bottle",
        "plate",
        "bread",
        "apple",
        "orange",
        "coffee",
        "dinner",
        "breakfast",
        "meeting",
        "concert",
        "game",
        "match",
        "report",
        "plan",
        "idea",
        "question",
        "answer",
        "problem",
        "machine",
        "engine",
        "radio",
        "newspaper",
        "map",
        "ticket",
        "window",
        "wall",
        "roof",
        "floor",
        "tree",
        "flower",
        "bird",
        "dog",
        "cat",
        "horse",
        "fish",
        "cloud",
        "storm",
        "road",
    ];

    static readonly string[] Verbs =
    [
        "found",
        "moved",
        "painted",
        "opened",
        "closed",
        "carried",
        "cleaned",
        "fixed",
        "bought",
        "sold",
        "watched",
        "visited",
        "built",
        "broke",
        "lost",
        "kept",
        "checked",
        "packed",
        "washed",
        "showed",
        "described",
        "finished",
        "started",
        "brought",
        "borrowed",
        "returned",
        "noticed",
        "measured",
        "counted",
        "ordered",
    ];

    static readonly string[] Places =
    [
        "near the station",
        "behind the house",
        "in the kitchen",
        "at the market",
        "by the river",
        "on the bridge",
        "in the garden",
        "at the office",
        "under the tree",
        "next to the library",
        "in the village",
        "across the street",
        "on the island",
        "at the museum",
        "in the forest",
    ];

    static readonly string[] Times =
    [
        "yesterday",
        "this morning",
        "last week",
        "on monday",
        "after dinner",
        "before the meeting",
        "at noon",
        "every day",
        "last night",
        "in the afternoon",
        "on friday",
        "early today",
    ];

    /// <summary>Cue phrases per emotion, in <see cref="DemoEmotions.Names"/> order.</summary>
    public static readonly string[][] EmotionPhrases =
    [
        ["i am so happy", "that is wonderful", "what a lovely day", "i really love it", "this is great news", "we had so much fun"],
        ["i feel so sad", "that is really sad", "i miss them a lot", "it was a lonely time", "i could cry", "what a terrible loss"],
        ["i am so angry", "that is outrageous", "this makes me furious", "stop doing that", "i hate this", "what a stupid mistake"],
        ["i can't believe it", "what a surprise", "wow i did not expect that", "that is amazing", "really is that true", "no way"],
        ["that is disgusting", "how gross", "it smells awful", "that is so nasty", "i feel sick", "yuck"],
        ["i am really scared", "that is frightening", "i am afraid of it", "please help me", "this is so dangerous", "i am worried"],
    ];

    /// <summary>A neutral sentence.</summary>
    public static string Sentence(Random rng)
    {
        string Pick(string[] xs) => xs[rng.Next(xs.Length)];
        string np = rng.NextDouble() < 0.5 ? $"the {Pick(Adjectives)} {Pick(Nouns)}" : $"a {Pick(Nouns)}";
        return rng.Next(5) switch
        {
            0 => $"{Pick(Names)} {Pick(Verbs)} {np} {Pick(Places)}",
            1 => $"{Pick(Times)} {Pick(Names)} {Pick(Verbs)} {np}",
            2 => $"the {Pick(Nouns)} was {Pick(Adjectives)} {Pick(Places)}",
            3 => $"we {Pick(Verbs)} {np} and the {Pick(Nouns)} {Pick(Times)}",
            _ => $"{Pick(Names)} and {Pick(Names)} {Pick(Verbs)} the {Pick(Adjectives)} {Pick(Nouns)}",
        };
    }

    /// <summary>
    /// A segment's transcript: a neutral sentence with the cue phrase of each emotion whose word cue is on,
    /// before or after it.
    /// </summary>
    public static string EmotionalSentence(Random rng, bool[] wordCues)
    {
        var parts = new List<string> { Sentence(rng) };
        for (int e = 0; e < wordCues.Length; e++)
        {
            if (wordCues[e])
            {
                string phrase = EmotionPhrases[e][rng.Next(EmotionPhrases[e].Length)];
                if (rng.NextDouble() < 0.5)
                {
                    parts.Insert(0, phrase);
                }
                else
                {
                    parts.Add(phrase);
                }
            }
        }
        return string.Join(" ", parts);
    }

    /// <summary>Every word the grammar and the lexicons can produce (for the demo word vectors).</summary>
    public static IReadOnlyList<string> Vocabulary() =>
        Names
            .Concat(Adjectives)
            .Concat(Nouns)
            .Concat(Verbs)
            .Concat(Places.SelectMany(Words))
            .Concat(Times.SelectMany(Words))
            .Concat(EmotionPhrases.SelectMany(p => p).SelectMany(Words))
            .Concat(["the", "a", "was", "we", "and"])
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Words of each emotion's cue phrases that no other part of the grammar uses.</summary>
    public static IReadOnlyList<string>[] CueWords()
    {
        var neutral = Names
            .Concat(Adjectives)
            .Concat(Nouns)
            .Concat(Verbs)
            .Concat(Places.SelectMany(Words))
            .Concat(Times.SelectMany(Words))
            .Concat(["the", "a", "was", "we", "and"])
            .ToHashSet();
        var phraseWords = EmotionPhrases.Select(ps => ps.SelectMany(Words).Where(w => !neutral.Contains(w)).ToHashSet()).ToArray();
        return phraseWords
            .Select(
                (ws, e) =>
                    (IReadOnlyList<string>)
                        ws.Where(w => phraseWords.Where((_, o) => o != e).All(other => !other.Contains(w)))
                            .Order(StringComparer.Ordinal)
                            .ToArray()
            )
            .ToArray();
    }

    static string[] Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
