using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Research.Model.Audio;
using Research.Model.Data;
using Research.Model.Training;
using Research.Model.Video;

namespace Research.Model.Demo;

/// <summary>
/// What a generated demo corpus holds (also its manifest.json). The emotion folds are by speaker
/// (<see cref="FoldsBy"/>): no speaker has items in two folds; <see cref="PositivesByFold"/> gives the label
/// distribution per fold. <see cref="ClusterBy"/> is the unit test items cluster in, which the main job's interval
/// bootstrap resamples; <see cref="SpeakerOfVideo"/> gives the speaker of every video.
/// </summary>
public sealed record DemoCorpusSummary(
    string Generator,
    DemoCorpusOptions Options,
    int PretrainSpeakers,
    int PretrainUtterances,
    double PretrainSeconds,
    int EmotionSpeakers,
    int EmotionVideos,
    int EmotionSegments,
    IReadOnlyDictionary<string, int> SegmentsByFold,
    IReadOnlyDictionary<string, int[]> PositivesByFold,
    IReadOnlyList<string> WordsWithoutVectors,
    string FoldsBy,
    string ClusterBy,
    IReadOnlyDictionary<string, string[]> SpeakersByFold,
    IReadOnlyDictionary<string, string> SpeakerOfVideo
);

/// <summary>
/// Generates the two demo corpora, in the formats of the real ones, so the main job walks the real readers:
/// <list type="bullet">
/// <item><c>pretrain/</c> — VoxCeleb2's role: a Kaldi-style data directory <c>pretrain/data</c> (wav.scp, text,
/// utt2spk, spk2utt, video.scp) over espeak-ng speech from many voices (<c>pretrain/wav</c>, 22.05 kHz WAV), with an
/// MP4 per utterance (<c>pretrain/video</c>) showing the speaker's face, the mouth following the speech envelope.</item>
/// <item><c>emotion/</c> — CMU-MOSEI's role: CMU-MultimodalSDK <c>.csd</c> files (LFBE audio features, visual
/// features, word vectors with word intervals, All Labels) for other speakers' videos of several labelled segments
/// each, with a folds JSON that splits train/valid/test by speaker (<see cref="DemoFolds"/>). Emotions show partly in the words, partly in the prosody and partly on the face.</item>
/// <item><c>glove.demo.300d.txt</c> — word vectors in GloVe's text format (random; emotion cue words share a
/// direction per emotion; three names are left out so out-of-vocabulary handling is exercised).</item>
/// </list>
/// Deterministic from the seed. Built in a temporary folder and renamed into place; an existing corpus with the
/// same options is reused.
/// </summary>
public static class DemoCorpus
{
    /// <summary>Changes whenever the generator's output changes, so stale corpora are regenerated.</summary>
    public const string Generator = "research-demo-corpus/3";

    /// <summary>Root names of the emotion corpus's .csd files.</summary>
    public const string AudioRoot = "LFBE",
        VisualRoot = "Pixels32",
        WordsRoot = "glove_vectors",
        LabelsRoot = "All Labels";

    /// <summary>Names (from the grammar) deliberately given no vector, to exercise out-of-vocabulary handling.</summary>
    public static readonly string[] WordsWithoutVectors = ["olga", "rosa", "irene"];

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Reads the manifest of a generated corpus, or null when there is none.</summary>
    public static DemoCorpusSummary? ReadManifest(string folder)
    {
        string path = Path.Combine(folder, "manifest.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<DemoCorpusSummary>(File.ReadAllText(path), Json) : null;
    }

    /// <summary>
    /// Returns the corpus in <paramref name="folder"/>, generating it when absent or made with other options.
    /// A folder that exists but was not made by this generator is never touched (error).
    /// </summary>
    public static (DemoCorpusSummary summary, bool reused) Ensure(string folder, DemoCorpusOptions options, Action<string> log)
    {
        folder = Path.GetFullPath(folder);
        var existing = Directory.Exists(folder) ? ReadManifest(folder) : null;
        // The worker count does not change the corpus: one made with other workers (another machine, a process
        // beside others) is the same corpus.
        if (existing is not null && existing.Generator == Generator && existing.Options with { Workers = options.Workers } == options)
        {
            return (existing, true);
        }
        if (Directory.Exists(folder) && existing is null)
        {
            throw new IOException($"{folder} exists but holds no demo corpus manifest; choose another folder or remove it");
        }
        string temp = $"{folder}.tmp-{Environment.ProcessId}";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, true);
        }
        try
        {
            var summary = Generate(temp, options, log);
            if (Directory.Exists(folder))
            {
                log($"replacing {folder} (made with other options or an older generator)");
                Directory.Delete(folder, true);
            }
            Directory.Move(temp, folder);
            return (summary, false);
        }
        catch
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, true);
            }
            throw;
        }
    }

    static DemoCorpusSummary Generate(string root, DemoCorpusOptions o, Action<string> log)
    {
        Directory.CreateDirectory(root);
        var rng = new Random(o.Seed);
        var taken = new HashSet<string>();
        var pretrainSpeakers = DemoSpeakers.Draw(o.PretrainSpeakers, rng, "pt", taken);
        var emotionSpeakers = DemoSpeakers.Draw(o.EmotionSpeakers, rng, "em", taken);
        var vectors = WriteWordVectors(Path.Combine(root, "glove.demo.300d.txt"), o, new Random(Mix(o.Seed, 1)));

        var (utterances, seconds) = GeneratePretraining(Path.Combine(root, "pretrain"), pretrainSpeakers, o, log);
        var (videos, segments, folds, positives, assignment, speakerOf) = GenerateEmotion(
            Path.Combine(root, "emotion"),
            emotionSpeakers,
            vectors,
            o,
            log
        );

        var summary = new DemoCorpusSummary(
            Generator,
            o,
            pretrainSpeakers.Count,
            utterances,
            seconds,
            emotionSpeakers.Count,
            videos,
            segments,
            folds,
            positives,
            WordsWithoutVectors,
            FoldsBy: "speaker",
            ClusterBy: "speaker",
            assignment.Speakers,
            speakerOf
        );
        File.WriteAllText(Path.Combine(root, "manifest.json"), JsonSerializer.Serialize(summary, Json));
        return summary;
    }

    /// <summary>A seed for item <paramref name="index"/> of stream <paramref name="seed"/> (stable across runs and processes).</summary>
    public static int Mix(int seed, int index) => unchecked((int)(((uint)seed * 2654435761u) ^ ((uint)index * 40503u + 0x9E3779B9u)));

    // ---- word vectors -------------------------------------------------------------------------------------

    static Dictionary<string, float[]> WriteWordVectors(string path, DemoCorpusOptions o, Random rng)
    {
        int dim = o.WordVectorDim;
        float[] Gaussian(double scale) => Enumerable.Range(0, dim).Select(_ => (float)(scale * NextGaussian(rng))).ToArray();
        var directions = DemoEmotions.Names.Select(_ => Normalise(Gaussian(1.0))).ToArray();
        var cueOf = new Dictionary<string, int>();
        var cueWords = DemoGrammar.CueWords();
        for (int e = 0; e < cueWords.Length; e++)
        {
            foreach (var w in cueWords[e])
            {
                cueOf[w] = e;
            }
        }
        var table = new Dictionary<string, float[]>();
        var sb = new StringBuilder();
        foreach (var word in DemoGrammar.Vocabulary())
        {
            var v = Gaussian(0.35);
            if (cueOf.TryGetValue(word, out int e))
            {
                for (int i = 0; i < dim; i++)
                {
                    v[i] += 2.5f * directions[e][i];
                }
            }
            if (WordsWithoutVectors.Contains(word))
            {
                continue;
            }
            table[word] = v;
            sb.Append(word);
            foreach (var x in v)
            {
                sb.Append(' ').Append(x.ToString("0.#####", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
        }
        File.WriteAllText(path, sb.ToString());
        return table;
    }

    static float[] Normalise(float[] v)
    {
        double n = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => (float)(x / n)).ToArray();
    }

    static double NextGaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    // ---- pre-training corpus ------------------------------------------------------------------------------

    static (int utterances, double seconds) GeneratePretraining(
        string dir,
        IReadOnlyList<DemoSpeaker> speakers,
        DemoCorpusOptions o,
        Action<string> log
    )
    {
        Directory.CreateDirectory(Path.Combine(dir, "wav"));
        Directory.CreateDirectory(Path.Combine(dir, "video"));
        var jobs = (
            from s in Enumerable.Range(0, speakers.Count)
            from u in Enumerable.Range(0, o.UtterancesPerSpeaker)
            select (speaker: speakers[s], index: s * o.UtterancesPerSpeaker + u, number: u)
        ).ToArray();
        var results = new (Utterance utt, double seconds)[jobs.Length];
        var progress = new Progress("pre-training corpus", jobs.Length, log);
        // Utterances a chunk at a time: speech and faces on the workers, then the chunk's videos encoded by one ffmpeg
        // process per worker (its start-up costs more than encoding a clip).
        int chunk = VideoChunk * o.Workers;
        var videos = new (string Path, IReadOnlyList<float[]> Frames)[jobs.Length];
        for (int start = 0; start < jobs.Length; start += chunk)
        {
            int end = Math.Min(jobs.Length, start + chunk);
            Parallel.For(start, end, new ParallelOptions { MaxDegreeOfParallelism = o.Workers }, i => results[i] = Synthesize(i));
            var parts = Enumerable.Range(start, end - start).Chunk(VideoChunk).ToArray();
            Parallel.ForEach(
                parts,
                new ParallelOptions { MaxDegreeOfParallelism = o.Workers },
                part =>
                {
                    VideoEncoder.WriteGrayMp4Many([.. part.Select(i => videos[i])], o.FrameSize, o.FramesPerSecond);
                    foreach (int i in part)
                    {
                        videos[i] = default;
                        progress.Done();
                    }
                }
            );
        }
        KaldiDataDir.Write(Path.Combine(dir, "data"), results.Select(r => r.utt).ToList());
        return (results.Length, results.Sum(r => r.seconds));

        (Utterance, double) Synthesize(int i)
        {
            var (speaker, index, number) = jobs[i];
            var rng = new Random(Mix(o.Seed, 1000 + index));
            string id = $"{speaker.Id}-{number:D5}";
            // Mostly neutral read speech; now and then an emotional phrase, as in vlogs.
            var intensities = DemoEmotions.DrawIntensities(rng).Select(x => rng.NextDouble() < 0.3 ? x : 0f).ToArray();
            var cues = DemoEmotions.DrawCues(intensities, rng);
            string text = DemoGrammar.EmotionalSentence(rng, cues.Words);
            var prosody = Jitter(DemoEmotions.ProsodyOf(speaker, intensities, cues.Prosody), rng);
            string wav = Path.Combine(dir, "wav", id + ".wav");
            Espeak.Synthesize(text, speaker.Voice, prosody, wav);
            var wave = AudioFile.Load(wav, 16000);
            var expression = DemoEmotions.ExpressionOf(intensities, cues.Face);
            var frames = RenderFrames(wave, speaker, (_ => expression), o, rng);
            videos[i] = (Path.Combine(dir, "video", id + ".mp4"), frames);
            // Paths relative to the data dir (pretrain/data), which is written as a whole and renamed into place.
            var utterance = new Utterance(id, speaker.Id, text, $"../wav/{id}.wav", $"../video/{id}.mp4");
            return (utterance, wave.Samples.Length / (double)wave.SampleRate);
        }
    }

    /// <summary>Videos encoded per ffmpeg process when the pre-training corpus is generated.</summary>
    const int VideoChunk = 16;

    static Prosody Jitter(Prosody p, Random rng) =>
        p with
        {
            Pitch = Math.Clamp(p.Pitch + rng.Next(-4, 5), 0, 99),
            Rate = (int)Math.Round(p.Rate * (0.94 + 0.12 * rng.NextDouble())),
        };

    /// <summary>
    /// Frames of a face speaking <paramref name="wave"/>: mouth opening = speech envelope (RMS over ±50 ms,
    /// relative to the utterance's 95th percentile), expression per frame time, a slow head sway.
    /// </summary>
    static List<float[]> RenderFrames(
        Waveform wave,
        DemoSpeaker speaker,
        Func<double, Expression> expressionAt,
        DemoCorpusOptions o,
        Random rng
    )
    {
        double duration = wave.Samples.Length / (double)wave.SampleRate;
        int n = Math.Max(1, (int)Math.Ceiling(duration * o.FramesPerSecond));
        var rms = new double[n];
        int half = wave.SampleRate / 20;
        for (int k = 0; k < n; k++)
        {
            int centre = (int)((k + 0.5) / o.FramesPerSecond * wave.SampleRate);
            int a = Math.Max(0, centre - half),
                b = Math.Min(wave.Samples.Length, centre + half);
            double sum = 0;
            for (int i = a; i < b; i++)
            {
                sum += (double)wave.Samples[i] * wave.Samples[i];
            }
            rms[k] = b > a ? Math.Sqrt(sum / (b - a)) : 0;
        }
        double reference = Math.Max(1.0, rms.Order().ElementAt((int)(0.95 * (n - 1))));
        double phase = rng.NextDouble() * 2 * Math.PI;
        var frames = new List<float[]>(n);
        for (int k = 0; k < n; k++)
        {
            double t = (k + 0.5) / o.FramesPerSecond;
            float open = (float)Math.Clamp(rms[k] / reference, 0, 1);
            float dx = (float)(0.015 * Math.Sin(0.7 * t + phase)),
                dy = (float)(0.01 * Math.Sin(0.45 * t + 2 * phase));
            frames.Add(FaceRenderer.Render(o.FrameSize, speaker.Face, expressionAt(t), open, dx, dy));
        }
        return frames;
    }

    // ---- emotion corpus -----------------------------------------------------------------------------------

    sealed record Segment(double Start, double End, string Transcript, float[] Intensities);

    sealed record VideoResult(
        string Id,
        CsdSequence Audio,
        CsdSequence Visual,
        CsdSequence Words,
        CsdSequence Labels,
        float[][] Intensities
    );

    static (
        int videos,
        int segments,
        IReadOnlyDictionary<string, int>,
        IReadOnlyDictionary<string, int[]>,
        DemoFoldAssignment,
        IReadOnlyDictionary<string, string>
    ) GenerateEmotion(
        string dir,
        IReadOnlyList<DemoSpeaker> speakers,
        IReadOnlyDictionary<string, float[]> vectors,
        DemoCorpusOptions o,
        Action<string> log
    )
    {
        Directory.CreateDirectory(dir);
        string scratch = Path.Combine(dir, "scratch");
        Directory.CreateDirectory(scratch);
        var jobs = (
            from s in Enumerable.Range(0, speakers.Count)
            from v in Enumerable.Range(0, o.VideosPerSpeaker)
            select (speaker: speakers[s], index: s * o.VideosPerSpeaker + v, id: $"{speakers[s].Id}_v{v}")
        ).ToArray();
        var results = new VideoResult[jobs.Length];
        var progress = new Progress("emotion corpus", jobs.Length, log);
        Parallel.For(
            0,
            jobs.Length,
            new ParallelOptions { MaxDegreeOfParallelism = o.Workers },
            i =>
            {
                results[i] = GenerateVideo(
                    jobs[i].id,
                    jobs[i].speaker,
                    vectors,
                    o,
                    new Random(Mix(o.Seed, 500000 + jobs[i].index)),
                    scratch
                );
                progress.Done();
            }
        );
        Directory.Delete(scratch, true);

        var speakerOf = jobs.ToDictionary(j => j.id, j => j.speaker.Id);
        var assignment = DemoFolds.BySpeaker(results.Select(r => new DemoVideoLabels(r.Id, speakerOf[r.Id], r.Intensities)).ToArray(), o);
        var folds = assignment.Videos;
        var meta = new Dictionary<string, string>
        {
            ["generator"] = JsonSerializer.Serialize(Generator),
            ["dataset"] = JsonSerializer.Serialize("demo corpus (synthesised speech, rendered faces); not CMU-MOSEI"),
            ["seed"] = JsonSerializer.Serialize(o.Seed),
        };
        CsdWriter.Write(Path.Combine(dir, "DEMO_LFBE.csd"), AudioRoot, results.Select(r => (r.Id, r.Audio)), meta);
        CsdWriter.Write(Path.Combine(dir, "DEMO_Pixels32.csd"), VisualRoot, results.Select(r => (r.Id, r.Visual)), meta);
        CsdWriter.Write(Path.Combine(dir, "DEMO_TimestampedWordVectors.csd"), WordsRoot, results.Select(r => (r.Id, r.Words)), meta);
        CsdWriter.Write(Path.Combine(dir, "DEMO_Labels.csd"), LabelsRoot, results.Select(r => (r.Id, r.Labels)), meta);
        File.WriteAllText(
            Path.Combine(dir, "folds.json"),
            JsonSerializer.Serialize(
                new Dictionary<string, string[]>
                {
                    ["train"] = folds["train"],
                    ["valid"] = folds["valid"],
                    ["test"] = folds["test"],
                },
                Json
            )
        );

        var foldOf = folds.SelectMany(kv => kv.Value.Select(id => (id, fold: kv.Key))).ToDictionary(p => p.id, p => p.fold);
        var segmentsByFold = folds.Keys.ToDictionary(f => f, _ => 0);
        var positives = folds.Keys.ToDictionary(f => f, _ => new int[DemoEmotions.Names.Length]);
        foreach (var r in results)
        {
            string f = foldOf[r.Id];
            segmentsByFold[f] += r.Intensities.Length;
            foreach (var seg in r.Intensities)
            {
                for (int e = 0; e < seg.Length; e++)
                {
                    positives[f][e] += seg[e] > 0 ? 1 : 0;
                }
            }
        }
        return (results.Length, results.Sum(r => r.Intensities.Length), segmentsByFold, positives, assignment, speakerOf);
    }

    static VideoResult GenerateVideo(
        string id,
        DemoSpeaker speaker,
        IReadOnlyDictionary<string, float[]> vectors,
        DemoCorpusOptions o,
        Random rng,
        string scratch
    )
    {
        const int rate = 16000;
        int count = rng.Next(o.MinSegments, o.MaxSegments + 1);
        var samples = new List<float>();
        samples.AddRange(new float[rate / 5]); // 0.2 s lead-in
        var segments = new List<Segment>();
        var expressions = new List<(double start, double end, Expression e)>();
        for (int k = 0; k < count; k++)
        {
            var intensities = DemoEmotions.DrawIntensities(rng);
            var cues = DemoEmotions.DrawCues(intensities, rng);
            string text = DemoGrammar.EmotionalSentence(rng, cues.Words);
            var prosody = Jitter(DemoEmotions.ProsodyOf(speaker, intensities, cues.Prosody), rng);
            string wav = Path.Combine(scratch, $"{id}-{k}.wav");
            Espeak.Synthesize(text, speaker.Voice, prosody, wav);
            var wave = AudioFile.Load(wav, rate);
            File.Delete(wav);
            double start = samples.Count / (double)rate;
            samples.AddRange(wave.Samples);
            double end = samples.Count / (double)rate;
            samples.AddRange(new float[3 * rate / 10]); // 0.3 s pause
            segments.Add(new Segment(start, end, text, intensities));
            expressions.Add((start, end, DemoEmotions.ExpressionOf(intensities, cues.Face)));
        }
        var video = new Waveform(samples.ToArray(), rate);

        // Audio: 40 LFBE every 10 ms, 5 stacked → 200-d every 50 ms; row r covers frames 5r..5r+4.
        var stacked = FeatureStacking.Stack(Fbank.Compute(video.Samples, rate), 5);
        var audioIntervals = new double[stacked.GetLength(0), 2];
        for (int r = 0; r < stacked.GetLength(0); r++)
        {
            audioIntervals[r, 0] = 0.05 * r;
            audioIntervals[r, 1] = 0.05 * r + 0.065;
        }

        // Video: the face between segments is neutral; within a segment it shows that segment's expression.
        Expression At(double t) => expressions.FirstOrDefault(x => t >= x.start && t < x.end).e ?? Expression.Neutral;
        var frames = RenderFrames(video, speaker, At, o, rng);
        var visual = new float[frames.Count, o.FeatureSide * o.FeatureSide];
        var visualIntervals = new double[frames.Count, 2];
        for (int k = 0; k < frames.Count; k++)
        {
            var feature = VisualFeatures.FromGray(frames[k], o.FrameSize, o.FrameSize, o.FeatureSide);
            for (int d = 0; d < feature.Length; d++)
            {
                visual[k, d] = feature[d];
            }
            visualIntervals[k, 0] = k / (double)o.FramesPerSecond;
            visualIntervals[k, 1] = (k + 1) / (double)o.FramesPerSecond;
        }

        // Words: spread over each segment's voiced span in proportion to their letters (espeak-ng gives no word times).
        var wordRows = new List<(float[] v, double s, double e)>();
        foreach (var seg in segments)
        {
            var words = seg.Transcript.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            double total = words.Sum(w => w.Length + 1.0),
                t = seg.Start;
            foreach (var w in words)
            {
                double d = (seg.End - seg.Start) * (w.Length + 1.0) / total;
                wordRows.Add((vectors.TryGetValue(w, out var v) ? v : new float[o.WordVectorDim], t, t + d));
                t += d;
            }
        }
        var wordFeatures = new float[wordRows.Count, o.WordVectorDim];
        var wordIntervals = new double[wordRows.Count, 2];
        for (int r = 0; r < wordRows.Count; r++)
        {
            for (int d = 0; d < o.WordVectorDim; d++)
            {
                wordFeatures[r, d] = wordRows[r].v[d];
            }
            wordIntervals[r, 0] = wordRows[r].s;
            wordIntervals[r, 1] = wordRows[r].e;
        }

        // Labels: sentiment then the six emotions, one row per segment (MOSEI's All Labels).
        var labels = new float[segments.Count, 7];
        var labelIntervals = new double[segments.Count, 2];
        for (int k = 0; k < segments.Count; k++)
        {
            labels[k, 0] = DemoEmotions.Sentiment(segments[k].Intensities);
            for (int e = 0; e < 6; e++)
            {
                labels[k, e + 1] = segments[k].Intensities[e];
            }
            labelIntervals[k, 0] = segments[k].Start;
            labelIntervals[k, 1] = segments[k].End;
        }
        return new VideoResult(
            id,
            new CsdSequence(stacked, audioIntervals),
            new CsdSequence(visual, visualIntervals),
            new CsdSequence(wordFeatures, wordIntervals),
            new CsdSequence(labels, labelIntervals),
            segments.Select(s => s.Intensities).ToArray()
        );
    }

    /// <summary>Thread-safe progress lines: count, rate and time left, about every 5% of the work.</summary>
    sealed class Progress(string what, int total, Action<string> log)
    {
        readonly Stopwatch clock = Stopwatch.StartNew();
        int done;

        public void Done()
        {
            int d = Interlocked.Increment(ref done);
            int every = Math.Max(1, total / 20);
            if (d % every == 0 || d == total)
            {
                double rate = d / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                log($"{what}: {d}/{total} ({rate:0.0}/s, {(total - d) / rate:0}s left)");
            }
        }
    }
}
