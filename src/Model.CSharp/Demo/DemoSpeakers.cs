namespace Research.Model.Demo;

/// <summary>How a demo speaker's face looks: grey levels and proportions, fixed per speaker.</summary>
public sealed record FaceStyle(float Background, float Skin, float Hair, float Width, float Height, float EyeGap, float MouthWidth);

/// <summary>
/// A synthetic speaker: an espeak-ng accent and voice variant, a base pitch (0–99) and rate (words/min),
/// and a face. Accent × variant × pitch gives far more distinct voices than the corpus needs.
/// </summary>
public sealed record DemoSpeaker(string Id, string Accent, string Variant, int Pitch, int Rate, FaceStyle Face)
{
    /// <summary>The espeak-ng voice name, e.g. en-us+m3.</summary>
    public string Voice => $"{Accent}+{Variant}";
}

/// <summary>Draws distinct demo speakers.</summary>
public static class DemoSpeakers
{
    /// <summary>English accents of espeak-ng 1.51.</summary>
    public static readonly string[] Accents =
    [
        "en-us",
        "en-gb",
        "en-gb-scotland",
        "en-gb-x-rp",
        "en-gb-x-gbclan",
        "en-gb-x-gbcwmd",
        "en-029",
        "en-us-nyc",
    ];

    /// <summary>
    /// Voice variants of espeak-ng that sound like a person (robotic, whispering and novelty variants are left out
    /// so that the speaker task is about voices, not effects).
    /// </summary>
    public static readonly string[] Variants =
    [
        "m1",
        "m2",
        "m3",
        "m4",
        "m5",
        "m6",
        "m7",
        "m8",
        "f1",
        "f2",
        "f3",
        "f4",
        "f5",
        "Alex",
        "Alicia",
        "Andrea",
        "Andy",
        "Annie",
        "Denis",
        "Diogo",
        "Gene",
        "Gene2",
        "Henrique",
        "Hugo",
        "Jacky",
        "Lee",
        "Marco",
        "Mario",
        "Michael",
        "Mike",
        "Nguyen",
        "adam",
        "anika",
        "announcer",
        "antonio",
        "aunty",
        "belinda",
        "benjamin",
        "boris",
        "caleb",
        "david",
        "ed",
        "edward",
        "edward2",
        "grandma",
        "grandpa",
        "gustave",
        "iven",
        "iven2",
        "iven3",
        "john",
        "linda",
        "marcelo",
        "max",
        "michel",
        "miguel",
        "norbert",
        "pablo",
        "paul",
        "pedro",
        "quincy",
        "rob",
        "robert",
        "sandro",
        "shelby",
        "steph",
        "steph2",
        "travis",
        "victor",
        "zac",
    ];

    static readonly int[] Pitches = [30, 50, 70];

    /// <summary>
    /// Draws <paramref name="count"/> speakers whose (accent, variant, pitch) is not in <paramref name="taken"/>,
    /// adding theirs to it, so two draws from one set never share a voice.
    /// </summary>
    public static IReadOnlyList<DemoSpeaker> Draw(int count, Random rng, string idPrefix, ISet<string> taken)
    {
        var all = (from a in Accents from v in Variants from p in Pitches select (a, v, p))
            .Where(x => !taken.Contains(Key(x.a, x.v, x.p)))
            .ToArray();
        if (all.Length < count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"only {all.Length} unused voices remain");
        }
        rng.Shuffle(all);
        var result = new List<DemoSpeaker>(count);
        for (int i = 0; i < count; i++)
        {
            var (a, v, p) = all[i];
            taken.Add(Key(a, v, p));
            var face = new FaceStyle(
                Background: Uniform(rng, 0.05f, 0.45f),
                Skin: Uniform(rng, 0.55f, 0.95f),
                Hair: Uniform(rng, 0.0f, 0.35f),
                Width: Uniform(rng, 0.85f, 1.15f),
                Height: Uniform(rng, 0.88f, 1.1f),
                EyeGap: Uniform(rng, 0.09f, 0.14f),
                MouthWidth: Uniform(rng, 0.13f, 0.2f)
            );
            result.Add(new DemoSpeaker($"{idPrefix}{i:D4}", a, v, p, rng.Next(150, 186), face));
        }
        return result;
    }

    static string Key(string accent, string variant, int pitch) => $"{accent}+{variant}@{pitch}";

    static float Uniform(Random rng, float lo, float hi) => lo + (float)rng.NextDouble() * (hi - lo);
}
