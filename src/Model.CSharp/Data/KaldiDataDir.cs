using System.Globalization;
using System.Text;

namespace Research.Model.Data;

/// <summary>
/// A Kaldi-style data directory: <c>wav.scp</c> (<c>utt path</c>, or <c>recording path</c> with <c>segments</c>),
/// <c>text</c> (<c>utt transcript…</c>), <c>utt2spk</c>, optional <c>spk2utt</c> (checked against <c>utt2spk</c>),
/// optional <c>segments</c> (<c>utt recording start end [channel]</c>) and our optional <c>video.scp</c>
/// (<c>utt path</c>: a video file or a <c>.npy</c> of per-frame features). Relative paths resolve against the data
/// directory. <see cref="Load"/> checks the files' form and that they name the same utterances; whether the named
/// files exist is checked only by <see cref="Validate"/> (a million stat calls on network storage take minutes).
/// Kaldi's <c>ark:offset</c> scp entries are not supported (they would be taken as paths).
/// </summary>
public sealed class KaldiDataDir
{
    /// <summary>The data directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>The utterances, sorted by id (ordinal, as Kaldi's <c>LC_ALL=C sort</c>).</summary>
    public IReadOnlyList<Utterance> Utterances { get; }

    /// <summary>The speakers of <see cref="Utterances"/>, sorted (ordinal): index i is the speaker class i.</summary>
    public IReadOnlyList<string> Speakers { get; }

    /// <summary>Speaker → its index in <see cref="Speakers"/>: stable for a given speaker set.</summary>
    public IReadOnlyDictionary<string, int> SpeakerIndex { get; }

    /// <summary>Utterances dropped for an empty transcript (only with <see cref="KaldiDataDirOptions.SkipEmptyTranscripts"/>).</summary>
    public IReadOnlyList<string> SkippedEmptyTranscripts { get; }

    /// <summary>Whether the directory has a <c>video.scp</c> (every utterance then has a <see cref="Utterance.VideoPath"/>).</summary>
    public bool HasVideo { get; }

    KaldiDataDir(string directory, List<Utterance> utterances, List<string> skipped, bool hasVideo)
    {
        Directory = directory;
        utterances.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        Utterances = utterances;
        Speakers = utterances.Select(u => u.Speaker).Distinct().Order(StringComparer.Ordinal).ToList();
        SpeakerIndex = Speakers.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i, StringComparer.Ordinal);
        SkippedEmptyTranscripts = skipped;
        HasVideo = hasVideo;
    }

    /// <summary>
    /// Reads a data directory. Malformed lines, duplicate keys, files that disagree on the utterance set (up to 10
    /// offenders listed, with the count), a <c>spk2utt</c> that contradicts <c>utt2spk</c>, empty transcripts (unless
    /// skipped) and piped <c>wav.scp</c> entries (unless allowed) are errors naming the file and line.
    /// </summary>
    public static KaldiDataDir Load(string directory, KaldiDataDirOptions? options = null)
    {
        options ??= new KaldiDataDirOptions();
        string dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"Kaldi data dir {dir} does not exist");
        }
        string[] missing = new[] { "wav.scp", "text", "utt2spk" }.Where(f => !File.Exists(Path.Combine(dir, f))).ToArray();
        if (missing.Length > 0)
        {
            throw new FileNotFoundException($"Kaldi data dir {dir}: missing {string.Join(", ", missing)} (needs wav.scp, text, utt2spk)");
        }

        var wav = ReadWavScp(dir, options.AllowPipes);
        var segments = ReadSegments(dir, wav);
        var text = KaldiTable.Read(Path.Combine(dir, "text"), false, "utt transcript…").ToDictionary(l => l.Key, StringComparer.Ordinal);
        var speakers = ReadUtt2Spk(dir);
        string videoPath = Path.Combine(dir, "video.scp");
        var video = File.Exists(videoPath) ? ReadVideoScp(dir, videoPath) : null;

        var utteranceIds = segments != null ? segments.Keys.ToList() : wav.Keys.ToList();
        string source = segments != null ? "segments" : "wav.scp";
        CheckSameUtterances(dir, source, utteranceIds, text.Keys, speakers.Keys, video?.Keys);
        string spk2utt = Path.Combine(dir, "spk2utt");
        if (File.Exists(spk2utt))
        {
            CheckSpk2Utt(spk2utt, speakers);
        }

        var empty = utteranceIds.Where(id => text[id].Value.Length == 0).ToList();
        if (empty.Count > 0 && !options.SkipEmptyTranscripts)
        {
            var where = empty.Select(id => $"'{id}' (line {text[id].Line})").ToList();
            throw new InvalidDataException(
                $"{Path.Combine(dir, "text")}: {empty.Count} empty transcript(s): {KaldiTable.Examples(where)}; "
                    + "set KaldiDataDirOptions.SkipEmptyTranscripts (--skip-bad REPORT.json on the command line) to drop them"
            );
        }
        var skip = empty.ToHashSet(StringComparer.Ordinal);
        var utterances = new List<Utterance>();
        foreach (string id in utteranceIds.Where(id => !skip.Contains(id)))
        {
            Segment? segment = segments?[id];
            var (wavPath, isCommand) = wav[segment?.Recording ?? id];
            utterances.Add(
                new Utterance(id, speakers[id].Value, text[id].Value, wavPath, video?[id]) { WavIsCommand = isCommand, Segment = segment }
            );
        }
        return new KaldiDataDir(dir, utterances, empty.Order(StringComparer.Ordinal).ToList(), video != null);
    }

    /// <summary>
    /// Checks that every audio and video file named exists (commands are not run); throws listing up to 10 missing
    /// files with the count.
    /// </summary>
    public void Validate()
    {
        var missing = new List<string>();
        var recordings = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in Utterances)
        {
            string key = u.Segment?.Recording ?? u.Id;
            if (!u.WavIsCommand && recordings.Add(key) && !File.Exists(u.WavPath))
            {
                missing.Add($"wav.scp '{key}' → {u.WavPath}");
            }
            if (u.VideoPath != null && !File.Exists(u.VideoPath))
            {
                missing.Add($"video.scp '{u.Id}' → {u.VideoPath}");
            }
        }
        if (missing.Count > 0)
        {
            throw new FileNotFoundException(
                $"Kaldi data dir {Directory}: {missing.Count} file(s) do not exist: {KaldiTable.Examples(missing)}"
            );
        }
    }

    /// <summary>
    /// Writes a data directory atomically (built in a temporary sibling, then renamed into place, replacing an
    /// existing one): <c>wav.scp</c>, <c>text</c>, <c>utt2spk</c>, <c>spk2utt</c> sorted by id (ordinal), plus
    /// <c>video.scp</c> and <c>segments</c> when the utterances have them (all or none), and any
    /// <paramref name="extraFiles"/> (name → text). Paths are written as given.
    /// </summary>
    public static void Write(string directory, IEnumerable<Utterance> utterances, IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        var sorted = utterances.OrderBy(u => u.Id, StringComparer.Ordinal).ToList();
        CheckWritable(directory, sorted);
        bool hasVideo = sorted.Count > 0 && sorted[0].VideoPath != null;
        bool hasSegments = sorted.Count > 0 && sorted[0].Segment != null;

        var wav = new StringBuilder();
        var text = new StringBuilder();
        var utt2spk = new StringBuilder();
        var video = new StringBuilder();
        var segments = new StringBuilder();
        var recordings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var u in sorted)
        {
            string entry = u.WavIsCommand ? $"{u.WavPath} |" : u.WavPath;
            if (u.Segment is { } s)
            {
                if (recordings.TryGetValue(s.Recording, out string? other) && other != entry)
                {
                    throw new ArgumentException($"recording '{s.Recording}' has two sources: '{other}' and '{entry}' (utterance '{u.Id}')");
                }
                recordings[s.Recording] = entry;
                string channel = s.Channel is int c ? $" {c}" : "";
                segments.Append($"{u.Id} {s.Recording} {Number(s.Start)} {Number(s.End)}{channel}\n");
            }
            else
            {
                wav.Append($"{u.Id} {entry}\n");
            }
            text.Append(u.Transcript.Length > 0 ? $"{u.Id} {u.Transcript}\n" : $"{u.Id}\n");
            utt2spk.Append($"{u.Id} {u.Speaker}\n");
            video.Append($"{u.Id} {u.VideoPath}\n");
        }
        foreach (var (recording, entry) in recordings)
        {
            wav.Append($"{recording} {entry}\n");
        }
        var spk2utt = new StringBuilder();
        foreach (var group in sorted.GroupBy(u => u.Speaker).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            spk2utt.Append($"{group.Key} {string.Join(" ", group.Select(u => u.Id))}\n");
        }

        AtomicFolder.Write(
            directory,
            temp =>
            {
                AtomicFolder.WriteText(Path.Combine(temp, "wav.scp"), wav.ToString());
                AtomicFolder.WriteText(Path.Combine(temp, "text"), text.ToString());
                AtomicFolder.WriteText(Path.Combine(temp, "utt2spk"), utt2spk.ToString());
                AtomicFolder.WriteText(Path.Combine(temp, "spk2utt"), spk2utt.ToString());
                if (hasVideo)
                {
                    AtomicFolder.WriteText(Path.Combine(temp, "video.scp"), video.ToString());
                }
                if (hasSegments)
                {
                    AtomicFolder.WriteText(Path.Combine(temp, "segments"), segments.ToString());
                }
                foreach (var (name, content) in extraFiles ?? new Dictionary<string, string>())
                {
                    AtomicFolder.WriteText(Path.Combine(temp, name), content);
                }
            }
        );
    }

    static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    static void CheckWritable(string directory, List<Utterance> sorted)
    {
        for (int i = 0; i < sorted.Count; i++)
        {
            var u = sorted[i];
            if (!KaldiTable.IsToken(u.Id))
            {
                throw new ArgumentException($"utterance id '{u.Id}' must be non-empty without whitespace ({directory})");
            }
            if (i > 0 && sorted[i - 1].Id == u.Id)
            {
                throw new ArgumentException($"utterance id '{u.Id}' appears twice ({directory})");
            }
            if (!KaldiTable.IsToken(u.Speaker))
            {
                throw new ArgumentException($"utterance '{u.Id}': speaker '{u.Speaker}' must be non-empty without whitespace");
            }
            if (u.Transcript.Any(char.IsControl))
            {
                throw new ArgumentException($"utterance '{u.Id}': the transcript contains a line break or control character");
            }
            if (u.WavPath.Length == 0 || u.WavPath.Any(char.IsControl) || (!u.WavIsCommand && u.WavPath.TrimEnd().EndsWith('|')))
            {
                throw new ArgumentException(
                    $"utterance '{u.Id}': wav path '{u.WavPath}' must be non-empty, one line, and not end with '|'"
                );
            }
            if (u.VideoPath != null && (u.VideoPath.Length == 0 || u.VideoPath.Any(char.IsControl)))
            {
                throw new ArgumentException($"utterance '{u.Id}': video path '{u.VideoPath}' must be non-empty and one line");
            }
            if ((u.VideoPath != null) != (sorted[0].VideoPath != null))
            {
                throw new ArgumentException(
                    $"utterance '{u.Id}': either every utterance has a video path or none has (video.scp covers all)"
                );
            }
            if ((u.Segment != null) != (sorted[0].Segment != null))
            {
                throw new ArgumentException($"utterance '{u.Id}': either every utterance has a segment or none has");
            }
            if (u.Segment is { } s && (!KaldiTable.IsToken(s.Recording) || !IsValidSpan(s.Start, s.End) || s.Channel < 0))
            {
                throw new ArgumentException($"utterance '{u.Id}': invalid segment {s}");
            }
        }
    }

    static bool IsValidSpan(double start, double end) => start >= 0 && (end == -1 || end > start);

    static Dictionary<string, (string Path, bool IsCommand)> ReadWavScp(string dir, bool allowPipes)
    {
        string path = Path.Combine(dir, "wav.scp");
        var result = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        foreach (var line in KaldiTable.Read(path, true, "utt path  (or: utt command args |)"))
        {
            if (line.Value.EndsWith('|'))
            {
                if (!allowPipes)
                {
                    throw KaldiTable.Error(
                        path,
                        line.Line,
                        $"'{line.Key}' is a piped command ('{line.Value}'); piped entries are read only with "
                            + "KaldiDataDirOptions.AllowPipes (the command then runs with bash -c); or convert the audio to files"
                    );
                }
                string command = line.Value[..^1].TrimEnd();
                if (command.Length == 0)
                {
                    throw KaldiTable.Error(path, line.Line, $"'{line.Key}' has an empty command before '|'");
                }
                result.Add(line.Key, (command, true));
            }
            else
            {
                result.Add(line.Key, (Path.GetFullPath(line.Value, dir), false));
            }
        }
        return result;
    }

    static Dictionary<string, Segment>? ReadSegments(string dir, Dictionary<string, (string, bool)> wav)
    {
        string path = Path.Combine(dir, "segments");
        if (!File.Exists(path))
        {
            return null;
        }
        const string Expected = "utt recording start end [channel]";
        var result = new Dictionary<string, Segment>(StringComparer.Ordinal);
        foreach (var line in KaldiTable.Read(path, true, Expected))
        {
            string[] f = KaldiTable.Fields(line.Value);
            int channel = 0;
            if (
                f.Length is < 3 or > 4
                || !double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double start)
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double end)
                || (f.Length == 4 && (!int.TryParse(f[3], CultureInfo.InvariantCulture, out channel) || channel < 0))
            )
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key} {line.Value}' is malformed; expected '{Expected}' (seconds)");
            }
            if (!IsValidSpan(start, end))
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key}': start {f[1]}, end {f[2]}; expected 0 <= start < end, or end = -1");
            }
            if (!wav.ContainsKey(f[0]))
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key}': recording '{f[0]}' is not in wav.scp");
            }
            result.Add(line.Key, new Segment(f[0], start, end, f.Length == 4 ? channel : null));
        }
        return result;
    }

    static Dictionary<string, KaldiLine> ReadUtt2Spk(string dir)
    {
        string path = Path.Combine(dir, "utt2spk");
        var lines = KaldiTable.Read(path, true, "utt speaker");
        foreach (var line in lines)
        {
            if (KaldiTable.Fields(line.Value).Length != 1)
            {
                throw KaldiTable.Error(path, line.Line, $"'{line.Key} {line.Value}' has more than one speaker; expected 'utt speaker'");
            }
        }
        return lines.ToDictionary(l => l.Key, StringComparer.Ordinal);
    }

    static Dictionary<string, string> ReadVideoScp(string dir, string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in KaldiTable.Read(path, true, "utt path"))
        {
            if (line.Value.EndsWith('|'))
            {
                throw KaldiTable.Error(
                    path,
                    line.Line,
                    $"'{line.Key}': piped commands are not supported in video.scp; expected 'utt path'"
                );
            }
            result.Add(line.Key, Path.GetFullPath(line.Value, dir));
        }
        return result;
    }

    static void CheckSameUtterances(
        string dir,
        string source,
        List<string> utterances,
        IEnumerable<string> text,
        IEnumerable<string> utt2spk,
        IEnumerable<string>? video
    )
    {
        var set = utterances.ToHashSet(StringComparer.Ordinal);
        var problems = new List<string>();
        void Compare(string file, IEnumerable<string> keys)
        {
            var keySet = keys.ToHashSet(StringComparer.Ordinal);
            var lacking = utterances.Where(u => !keySet.Contains(u)).Order(StringComparer.Ordinal).ToList();
            var extra = keySet.Where(k => !set.Contains(k)).Order(StringComparer.Ordinal).ToList();
            if (lacking.Count > 0)
            {
                problems.Add($"{lacking.Count} utterance(s) of {source} have no line in {file}: {KaldiTable.Examples(lacking)}");
            }
            if (extra.Count > 0)
            {
                problems.Add($"{extra.Count} utterance(s) of {file} are not in {source}: {KaldiTable.Examples(extra)}");
            }
        }
        Compare("text", text);
        Compare("utt2spk", utt2spk);
        if (video != null)
        {
            Compare("video.scp", video);
        }
        if (problems.Count > 0)
        {
            throw new InvalidDataException($"Kaldi data dir {dir}: the files name different utterances: {string.Join("; ", problems)}");
        }
    }

    static void CheckSpk2Utt(string path, Dictionary<string, KaldiLine> utt2spk)
    {
        var listed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in KaldiTable.Read(path, true, "speaker utt1 utt2 …"))
        {
            foreach (string utt in KaldiTable.Fields(line.Value))
            {
                if (listed.TryGetValue(utt, out int first))
                {
                    throw KaldiTable.Error(path, line.Line, $"utterance '{utt}' is listed again (first on line {first})");
                }
                listed.Add(utt, line.Line);
                if (!utt2spk.TryGetValue(utt, out var owner))
                {
                    throw KaldiTable.Error(path, line.Line, $"utterance '{utt}' of speaker '{line.Key}' is not in utt2spk");
                }
                if (owner.Value != line.Key)
                {
                    throw KaldiTable.Error(
                        path,
                        line.Line,
                        $"utterance '{utt}' is listed under speaker '{line.Key}' but utt2spk line {owner.Line} says '{owner.Value}'"
                    );
                }
            }
        }
        var absent = utt2spk.Keys.Where(u => !listed.ContainsKey(u)).Order(StringComparer.Ordinal).ToList();
        if (absent.Count > 0)
        {
            throw new InvalidDataException($"{path}: {absent.Count} utterance(s) of utt2spk are not listed: {KaldiTable.Examples(absent)}");
        }
    }
}
