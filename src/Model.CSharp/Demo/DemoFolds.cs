namespace Research.Model.Demo;

/// <summary>One emotion video of the demo corpus, as the fold assignment sees it.</summary>
/// <param name="Id">The video id.</param>
/// <param name="Speaker">The speaker id (every video has one speaker).</param>
/// <param name="Intensities">Per segment, the six emotion intensities (&gt; 0 = the emotion is present).</param>
public sealed record DemoVideoLabels(string Id, string Speaker, float[][] Intensities);

/// <summary>The train/valid/test folds of the demo emotion corpus: speakers and videos per fold.</summary>
/// <param name="Speakers">Fold → its speakers (ordinal order); no speaker is in two folds.</param>
/// <param name="Videos">Fold → its videos (ordinal order): every video of a fold's speakers.</param>
public sealed record DemoFoldAssignment(IReadOnlyDictionary<string, string[]> Speakers, IReadOnlyDictionary<string, string[]> Videos);

/// <summary>
/// Splits the demo emotion corpus into folds by speaker, so no test (or validation) speaker is seen in training:
/// the test fold gets <see cref="DemoCorpusOptions.TestShare"/> of the speakers, the validation fold
/// <see cref="DemoCorpusOptions.ValidShare"/>, each at least one, train the rest (at least one). Among
/// <see cref="Candidates"/> seeded shuffles of the speakers it keeps the first one that (1) leaves the fewest
/// (fold, emotion) pairs without positives where the corpus has some, then (2) puts segment shares closest to the
/// speaker shares, so every fold has enough items and every emotion positives in every fold as far as possible.
/// Deterministic from the seed.
/// </summary>
public static class DemoFolds
{
    /// <summary>Speaker shuffles compared.</summary>
    public const int Candidates = 200;

    /// <summary>The folds, in the order the corpus lists them.</summary>
    public static readonly string[] Names = ["train", "valid", "test"];

    /// <summary>Assigns every speaker (with all of its videos) to one fold; throws with fewer than three speakers.</summary>
    public static DemoFoldAssignment BySpeaker(IReadOnlyList<DemoVideoLabels> videos, DemoCorpusOptions o)
    {
        var speakers = videos.Select(v => v.Speaker).Distinct().Order(StringComparer.Ordinal).ToArray();
        int s = speakers.Length;
        if (s < 3)
        {
            throw new ArgumentException(
                $"the demo emotion corpus has {s} speaker(s); folds by speaker need at least 3 (one per fold)",
                nameof(videos)
            );
        }
        int test = Math.Clamp((int)Math.Round(o.TestShare * s), 1, s - 2),
            valid = Math.Clamp((int)Math.Round(o.ValidShare * s), 1, s - 1 - test);
        int emotions = DemoEmotions.Names.Length;
        var segments = speakers.ToDictionary(x => x, _ => 0);
        var positives = speakers.ToDictionary(x => x, _ => new int[emotions]);
        foreach (var v in videos)
        {
            segments[v.Speaker] += v.Intensities.Length;
            foreach (var seg in v.Intensities)
            {
                for (int e = 0; e < emotions; e++)
                {
                    positives[v.Speaker][e] += seg[e] > 0 ? 1 : 0;
                }
            }
        }
        var present = Enumerable.Range(0, emotions).Select(e => speakers.Any(x => positives[x][e] > 0)).ToArray();
        double total = Math.Max(1, segments.Values.Sum());
        var shares = new[] { (s - test - valid) / (double)s, valid / (double)s, test / (double)s };

        // Fold f of a shuffle: test first, then valid, then train.
        string[][] Split(string[] order) => [order[(test + valid)..], order[test..(test + valid)], order[..test]];

        (int missing, double imbalance) Score(string[][] folds)
        {
            int missing = 0;
            double imbalance = 0;
            for (int f = 0; f < folds.Length; f++)
            {
                for (int e = 0; e < emotions; e++)
                {
                    if (present[e] && folds[f].All(x => positives[x][e] == 0))
                    {
                        missing++;
                    }
                }
                imbalance += Math.Abs(folds[f].Sum(x => segments[x]) / total - shares[f]);
            }
            return (missing, imbalance);
        }

        var rng = new Random(DemoCorpus.Mix(o.Seed, 2));
        string[][]? best = null;
        (int missing, double imbalance) bestScore = (int.MaxValue, double.MaxValue);
        for (int k = 0; k < Candidates; k++)
        {
            var order = (string[])speakers.Clone();
            rng.Shuffle(order);
            var folds = Split(order);
            var score = Score(folds);
            if (score.missing < bestScore.missing || (score.missing == bestScore.missing && score.imbalance < bestScore.imbalance))
            {
                best = folds;
                bestScore = score;
            }
        }
        var speakersOf = new Dictionary<string, string[]>();
        var videosOf = new Dictionary<string, string[]>();
        for (int f = 0; f < Names.Length; f++)
        {
            var set = best![f].ToHashSet();
            speakersOf[Names[f]] = best[f].Order(StringComparer.Ordinal).ToArray();
            videosOf[Names[f]] = videos.Where(v => set.Contains(v.Speaker)).Select(v => v.Id).Order(StringComparer.Ordinal).ToArray();
        }
        return new DemoFoldAssignment(speakersOf, videosOf);
    }
}
