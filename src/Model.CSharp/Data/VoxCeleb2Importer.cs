using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Research.Model.Data;

/// <summary>One VoxCeleb2 clip file: <c>&lt;split&gt;/&lt;aac|mp4&gt;/&lt;speaker&gt;/&lt;youtube id&gt;/&lt;clip&gt;.&lt;ext&gt;</c>.</summary>
public sealed record VoxCeleb2Clip(string Id, string Speaker, string YoutubeId, string Clip, string Path);

/// <summary>
/// Turns a VoxCeleb2 tree (<c>dev/aac/idXXXXX/&lt;youtube_id&gt;/NNNNN.m4a</c>, <c>dev/mp4/…/NNNNN.mp4</c>), machine
/// transcripts (Kaldi <c>text</c>) and per-utterance ASR scores (<c>utt score</c>, higher = more confident) into a
/// Kaldi data directory of the utterances that pass the score threshold (the paper's English filter, §4.1):
/// <c>wav.scp</c> → the m4a, <c>video.scp</c> → the mp4, <c>text</c>, <c>utt2spk</c> (the idXXXXX speaker),
/// <c>spk2utt</c>, and <c>import_report.json</c>.
/// Utterance ids are <c>idXXXXX-&lt;youtube_id&gt;-NNNNN</c> (<see cref="UtteranceId"/>); the transcripts and scores
/// files must use them. YouTube ids may contain '-' and '_', so the parts are taken from the path, never by
/// splitting an id. The speaker prefix keeps Kaldi's sort orders of utt2spk and spk2utt consistent.
/// </summary>
public static class VoxCeleb2Importer
{
    /// <summary>The utterance id of a clip: <c>speaker-youtubeId-clip</c>, e.g. <c>id00012-21Uxsk56VDQ-00001</c>.</summary>
    public static string UtteranceId(string speaker, string youtubeId, string clip) => $"{speaker}-{youtubeId}-{clip}";

    /// <summary>
    /// The clips under <c>root/split/kind</c> (<paramref name="kind"/> "aac" or "mp4") with the extension
    /// <paramref name="extension"/>, keyed by utterance id. Only files two folders below the kind folder count.
    /// A name with whitespace, or two files giving the same id, is an error naming the paths.
    /// </summary>
    public static Dictionary<string, VoxCeleb2Clip> Scan(string root, string split, string kind, string extension)
    {
        string folder = Path.Combine(Path.GetFullPath(root), split, kind);
        var clips = new Dictionary<string, VoxCeleb2Clip>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return clips;
        }
        foreach (string speakerDir in Directory.EnumerateDirectories(folder))
        {
            string speaker = Path.GetFileName(speakerDir);
            foreach (string videoDir in Directory.EnumerateDirectories(speakerDir))
            {
                string youtubeId = Path.GetFileName(videoDir);
                foreach (string file in Directory.EnumerateFiles(videoDir, "*" + extension))
                {
                    string clip = Path.GetFileNameWithoutExtension(file);
                    if (!KaldiTable.IsToken(speaker) || !KaldiTable.IsToken(youtubeId) || !KaldiTable.IsToken(clip))
                    {
                        throw new InvalidDataException(
                            $"VoxCeleb2 file {file}: speaker, YouTube id and clip names must have no whitespace"
                        );
                    }
                    string id = UtteranceId(speaker, youtubeId, clip);
                    if (clips.TryGetValue(id, out var other))
                    {
                        throw new InvalidDataException($"VoxCeleb2 files {other.Path} and {file} both give utterance id '{id}'");
                    }
                    clips.Add(id, new VoxCeleb2Clip(id, speaker, youtubeId, clip, file));
                }
            }
        }
        return clips;
    }

    /// <summary>
    /// Imports the utterances that pass the filters into a Kaldi data directory at <paramref name="outDir"/>
    /// (written atomically, with <c>import_report.json</c>) and returns the report. No audio clip found, or none
    /// kept, is an error carrying the counts.
    /// </summary>
    public static VoxCeleb2ImportReport Import(
        string root,
        string textPath,
        string scoresPath,
        string outDir,
        VoxCeleb2ImportOptions options
    )
    {
        if (options.MaxPerSpeaker is < 1)
        {
            throw new ArgumentException($"MaxPerSpeaker must be at least 1 (or null), got {options.MaxPerSpeaker}");
        }
        if (options.MinPerSpeaker < 1)
        {
            throw new ArgumentException($"MinPerSpeaker must be at least 1, got {options.MinPerSpeaker}");
        }
        if (double.IsNaN(options.Threshold))
        {
            throw new ArgumentException("Threshold must be a number, got NaN");
        }
        string fullRoot = Path.GetFullPath(root);
        var audio = Scan(fullRoot, options.Split, "aac", ".m4a");
        if (audio.Count == 0)
        {
            throw new InvalidDataException(
                $"VoxCeleb2 root {fullRoot}: no audio clips; expected {Path.Combine(fullRoot, options.Split, "aac", "idXXXXX", "<youtube_id>", "NNNNN.m4a")}"
            );
        }
        var video = Scan(fullRoot, options.Split, "mp4", ".mp4");
        var text = KaldiTable.Read(textPath, false, "utt transcript…").ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal);
        var scores = ReadScores(scoresPath);

        var dropped = new Dictionary<string, List<string>>();
        var candidates = new List<VoxCeleb2Clip>();
        var bad = new List<BadItem>();
        foreach (var clip in audio.Values.OrderBy(c => c.Id, StringComparer.Ordinal))
        {
            string? reason =
                !video.ContainsKey(clip.Id) ? "missingMp4"
                : !text.TryGetValue(clip.Id, out string? transcript) ? "missingTranscript"
                : transcript.Length == 0 ? "emptyTranscript"
                : !scores.TryGetValue(clip.Id, out double score) ? "missingScore"
                : score < options.Threshold ? "belowThreshold"
                : null;
            if (reason == null)
            {
                candidates.Add(clip);
                continue;
            }
            Add(dropped, reason, clip.Id);
            if (BadInput(reason, clip, fullRoot, options.Split, textPath, scoresPath) is { } item)
            {
                bad.Add(item);
            }
        }
        if (bad.Count > 0 && !options.SkipBadInputs)
        {
            var where = bad.Select(b => $"'{b.Id}' ({b.File}: {b.Reason})").ToList();
            throw new InvalidDataException(
                $"VoxCeleb2 import of {fullRoot}: {bad.Count} clip(s) with bad input: {KaldiTable.Examples(where)}; "
                    + "skip them with VoxCeleb2ImportOptions.SkipBadInputs (voxceleb.fsx import --skip-bad REPORT.json)"
            );
        }

        var kept = new List<VoxCeleb2Clip>();
        int speakersBelowMinimum = 0;
        foreach (var group in candidates.GroupBy(c => c.Speaker))
        {
            var chosen = group.ToList();
            if (options.MaxPerSpeaker is int cap && chosen.Count > cap)
            {
                var ranked = chosen.OrderBy(c => Rank(options.Seed, c.Id)).ThenBy(c => c.Id, StringComparer.Ordinal).ToList();
                foreach (var c in ranked.Skip(cap))
                {
                    Add(dropped, "overSpeakerCap", c.Id);
                }
                chosen = ranked.Take(cap).ToList();
            }
            if (chosen.Count < options.MinPerSpeaker)
            {
                speakersBelowMinimum++;
                foreach (var c in chosen)
                {
                    Add(dropped, "speakerBelowMinimum", c.Id);
                }
                continue;
            }
            kept.AddRange(chosen);
        }

        var extra = new Dictionary<string, List<string>>
        {
            ["videoWithoutAudio"] = video.Keys.Where(id => !audio.ContainsKey(id)).ToList(),
            ["transcriptsWithoutAudio"] = text.Keys.Where(id => !audio.ContainsKey(id)).ToList(),
            ["scoresWithoutAudio"] = scores.Keys.Where(id => !audio.ContainsKey(id)).ToList(),
        };
        int Count(string reason) => dropped.TryGetValue(reason, out var ids) ? ids.Count : 0;
        var examples = dropped
            .Concat(extra)
            .Where(p => p.Value.Count > 0)
            .ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.Order(StringComparer.Ordinal).Take(options.Examples).ToList());
        var report = new VoxCeleb2ImportReport
        {
            Root = fullRoot,
            Text = Path.GetFullPath(textPath),
            Scores = Path.GetFullPath(scoresPath),
            Threshold = options.Threshold,
            MaxPerSpeaker = options.MaxPerSpeaker,
            MinPerSpeaker = options.MinPerSpeaker,
            Found = audio.Count,
            VideoFound = video.Count,
            WithTranscript = audio.Keys.Count(text.ContainsKey),
            WithScore = audio.Keys.Count(scores.ContainsKey),
            MissingMp4 = Count("missingMp4"),
            MissingTranscript = Count("missingTranscript"),
            EmptyTranscript = Count("emptyTranscript"),
            MissingScore = Count("missingScore"),
            BelowThreshold = Count("belowThreshold"),
            OverSpeakerCap = Count("overSpeakerCap"),
            SpeakerBelowMinimum = Count("speakerBelowMinimum"),
            SpeakersBelowMinimum = speakersBelowMinimum,
            VideoWithoutAudio = extra["videoWithoutAudio"].Count,
            TranscriptsWithoutAudio = extra["transcriptsWithoutAudio"].Count,
            ScoresWithoutAudio = extra["scoresWithoutAudio"].Count,
            Kept = kept.Count,
            Speakers = kept.Select(c => c.Speaker).Distinct().Count(),
            Examples = examples,
            BadInputs = bad,
        };
        if (kept.Count == 0)
        {
            throw new InvalidDataException($"VoxCeleb2 import of {fullRoot}: no utterance kept ({report.Summary()})");
        }

        var utterances = kept.Select(c => new Utterance(c.Id, c.Speaker, text[c.Id], c.Path, video[c.Id].Path));
        KaldiDataDir.Write(outDir, utterances, new Dictionary<string, string> { ["import_report.json"] = report.ToJson() + "\n" });
        return report;
    }

    /// <summary>The bad-input item of a clip dropped for <paramref name="reason"/>; null for the filters' drops.</summary>
    static BadItem? BadInput(string reason, VoxCeleb2Clip clip, string root, string split, string textPath, string scoresPath) =>
        reason switch
        {
            "missingMp4" => new BadItem(
                "voxceleb import",
                clip.Id,
                clip.Path,
                $"no video: expected {Path.Combine(root, split, "mp4", clip.Speaker, clip.YoutubeId, clip.Clip + ".mp4")}"
            ),
            "missingTranscript" => new BadItem("voxceleb import", clip.Id, Path.GetFullPath(textPath), "no transcript line"),
            "emptyTranscript" => new BadItem("voxceleb import", clip.Id, Path.GetFullPath(textPath), "empty transcript"),
            "missingScore" => new BadItem("voxceleb import", clip.Id, Path.GetFullPath(scoresPath), "no score line"),
            _ => null,
        };

    static void Add(Dictionary<string, List<string>> lists, string key, string id)
    {
        if (!lists.TryGetValue(key, out var list))
        {
            lists[key] = list = [];
        }
        list.Add(id);
    }

    /// <summary>A stable pseudo-random rank of an id: the first 8 bytes of SHA-256("seed:id").</summary>
    static ulong Rank(int seed, string id) =>
        BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed.ToString(CultureInfo.InvariantCulture)}:{id}")), 0);

    static Dictionary<string, double> ReadScores(string path)
    {
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in KaldiTable.Read(path, true, "utt score"))
        {
            string[] f = KaldiTable.Fields(line.Value);
            if (f.Length != 1 || !double.TryParse(f[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double score))
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key} {line.Value}': expected 'utt score' with one number");
            }
            if (!double.IsFinite(score))
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key}': score {f[0]} is not finite");
            }
            scores.Add(line.Key, score);
        }
        return scores;
    }
}
