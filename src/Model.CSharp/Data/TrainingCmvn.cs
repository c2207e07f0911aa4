using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Research.Model.Audio;

namespace Research.Model.Data;

/// <summary>
/// Global CMVN statistics of a pre-training store, computed on the raw filter-bank energies of its training split
/// (<see cref="PretrainingSplit"/>: the utterances the trainer trains on) and stored inside the store as
/// <see cref="FileName"/>. The store's audio features are normalised with them when built, so every reader of the
/// store (the trainer, held-out evaluation, <c>embed.fsx --data</c>) sees the same normalised features; new audio
/// outside the store is normalised the same way with <c>features.fsx lfbe --cmvn global --stats STORE/cmvn.json</c>.
/// </summary>
public static class TrainingCmvn
{
    /// <summary>The statistics' file inside a store built with global CMVN.</summary>
    public const string FileName = "cmvn.json";

    /// <summary>
    /// The statistics of the training split of <paramref name="dir"/>: reused from <c>storeDir/cmvn.json</c> when
    /// that file was computed from the same training utterances (ids, file sizes and times) and filter-bank settings,
    /// otherwise computed (<paramref name="parallelism"/> files at once, added in the dir's order, so the result does
    /// not depend on it). An utterance whose audio cannot be read is an error naming it and its file, unless
    /// <paramref name="skipFailed"/> (it is then left out here, and the store build skips and reports it).
    /// </summary>
    public static CmvnStats Compute(
        KaldiDataDir dir,
        FrontEndOptions o,
        int heldOutPerSpeaker,
        string storeDir,
        bool skipFailed = false,
        int parallelism = 1
    )
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(o);
        if (parallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(parallelism), parallelism, "must be at least 1");
        }
        var train = PretrainingSplit.Training(dir, heldOutPerSpeaker);
        if (train.Count == 0)
        {
            throw new InvalidDataException(
                $"Kaldi data dir {dir.Directory}: no training utterance for global CMVN ({dir.Utterances.Count} utterances, "
                    + $"{heldOutPerSpeaker} held out per speaker)"
            );
        }
        string sources = SourcesFingerprint(train, o, heldOutPerSpeaker);
        if (Previous(storeDir, sources) is { } reused)
        {
            return reused;
        }

        CmvnStats? stats = null;
        int failed = 0;
        const int Chunk = 64;
        for (int start = 0; start < train.Count; start += Chunk)
        {
            var batch = train.Skip(start).Take(Chunk).ToList();
            var frames = new (float[,]? Frames, Exception? Error)[batch.Count];
            Parallel.For(
                0,
                batch.Count,
                new ParallelOptions { MaxDegreeOfParallelism = parallelism },
                i =>
                {
                    try
                    {
                        frames[i] = (CorpusFeatures.FilterBank(batch[i].WavPath, o, batch[i].Id), null);
                    }
                    catch (Exception e)
                    {
                        frames[i] = (null, e);
                    }
                }
            );
            for (int i = 0; i < batch.Count; i++)
            {
                var u = batch[i];
                if (frames[i].Error is { } error)
                {
                    if (!skipFailed)
                    {
                        throw new FeatureItemException(
                            storeDir,
                            u.Id,
                            start + i,
                            CorpusFeatures.Audio,
                            $"global CMVN statistics of the training split: reading {u.WavPath} failed: {error.Message}",
                            error
                        );
                    }
                    failed++;
                    continue;
                }
                stats ??= new CmvnStats(frames[i].Frames!.GetLength(1));
                stats.Add(frames[i].Frames!, u.Id);
            }
        }
        if (stats is null || stats.Count == 0)
        {
            throw new InvalidDataException($"Kaldi data dir {dir.Directory}: no frames in the training split for global CMVN");
        }
        var about = new Dictionary<string, string>
        {
            ["split"] = "train",
            ["splitRule"] = "all utterances but the last heldOutPerSpeaker of each speaker by id (PretrainingSplit, as the trainer)",
            ["heldOutPerSpeaker"] = heldOutPerSpeaker.ToString(CultureInfo.InvariantCulture),
            ["dataDir"] = dir.Directory,
            ["trainingUtterances"] = train.Count.ToString(CultureInfo.InvariantCulture),
            ["failedUtterances"] = failed.ToString(CultureInfo.InvariantCulture),
            ["features"] = "raw filter-bank energies (before stacking)",
            ["sources"] = sources,
        };
        // Through the JSON text and back: what is applied is exactly what the file holds.
        return CmvnStats.Parse(stats.ToJson(about), Path.Combine(storeDir, FileName));
    }

    /// <summary>The statistics of <c>storeDir/cmvn.json</c> when their sources match; null otherwise or when unreadable.</summary>
    static CmvnStats? Previous(string storeDir, string sources)
    {
        string path = Path.Combine(storeDir, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var old = CmvnStats.Load(path);
            return old.About.TryGetValue("sources", out string? s) && s == sources ? old : null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>A hash of the filter-bank settings, the split size and every training utterance's id and audio file.</summary>
    static string SourcesFingerprint(IReadOnlyList<Utterance> train, FrontEndOptions o, int heldOutPerSpeaker)
    {
        var text = new StringBuilder();
        text.Append(System.Text.Json.JsonSerializer.Serialize(o.Fbank)).Append('\n').Append(heldOutPerSpeaker).Append('\n');
        foreach (var u in train)
        {
            text.Append(u.Id).Append('\t').Append(FeatureCache.FileFingerprint("", u.WavPath));
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
