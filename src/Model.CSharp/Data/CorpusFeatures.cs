using Research.Model.Audio;
using Research.Model.Text;
using Research.Model.Video;

namespace Research.Model.Data;

/// <summary>
/// Turns corpora into feature stores (one per split) with the modalities <c>audio</c>, <c>video</c>, <c>text</c>
/// (and <c>labels</c> for emotion segments). Each item is computed once; a re-run recomputes only items whose
/// sources or front-end settings changed (<see cref="FeatureCache"/>).
/// </summary>
public static class CorpusFeatures
{
    /// <summary>Modality names in the stores.</summary>
    public const string Audio = "audio",
        Video = "video",
        Text = "text",
        Labels = "labels";

    /// <summary>
    /// LFBE of an audio file: 16 kHz, Kaldi filter banks, CMVN as <see cref="FrontEndOptions.Cmvn"/> says (per
    /// utterance, none, or the global statistics), stacking → (T / stack, 40 · stack).
    /// </summary>
    public static float[,] AudioFeatures(string path, FrontEndOptions o, string item)
    {
        var frames = FilterBank(path, o, item);
        frames = o.Cmvn switch
        {
            CmvnMode.Utterance => Cmvn.PerUtterance(frames, item),
            CmvnMode.Global => o.GlobalStats().Apply(frames, item),
            _ => frames,
        };
        return o.Stack > 1 ? FeatureStacking.Stack(frames, o.Stack, item) : frames;
    }

    /// <summary>The raw filter-bank energies (T, 40) of an audio file at 16 kHz: no CMVN, no stacking.</summary>
    public static float[,] FilterBank(string path, FrontEndOptions o, string item)
    {
        var wave = AudioFile.Load(path, 16000);
        return Fbank.Compute(wave.Samples, wave.SampleRate, o.Fbank, item);
    }

    /// <summary>
    /// Per-frame visual features of a video file, or of a .npy of precomputed (frames, dim) features. With
    /// <paramref name="batches"/>, the video's frames come from there (decoded with others in one ffmpeg process).
    /// </summary>
    public static float[,] VideoFeaturesOf(
        string path,
        FrontEndOptions o,
        IFrameFeatureExtractor extractor,
        string item,
        VideoFrameBatches? batches = null
    ) =>
        path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)
            ? Research.Model.Video.VideoFeatures.Precomputed(Npy.ReadMatrix(path), item, extractor.Dimension)
        : batches is not null ? extractor.Extract(batches.Read(path))
        : Research.Model.Video.VideoFeatures.FromFile(path, o.VideoFps, extractor);

    /// <summary>Items per store chunk when videos are decoded a chunk at a time (one ffmpeg process per chunk).</summary>
    public const int VideoBatch = 32;

    /// <summary>The frame feature extractor the options ask for: VGG-16 fc7 when weights are given, else grey levels.</summary>
    public static IFrameFeatureExtractor Extractor(FrontEndOptions o) =>
        o.Vgg16Weights is null ? new VisualFeatures(o.VisualSide) : new Vgg16Features(Vgg16.Load(o.Vgg16Weights));

    /// <summary>
    /// Builds the store of a pre-training data directory: per utterance its LFBE, its video's frame features and the
    /// word vectors of its transcript. Returns the cache result and the out-of-vocabulary report of the transcripts.
    /// Under <see cref="CmvnMode.Global"/> without given statistics, they are computed on the training split
    /// (<see cref="TrainingCmvn"/>, with <paramref name="heldOutPerSpeaker"/> as the trainer's) and stored in the
    /// store as <c>cmvn.json</c>; their fingerprint is part of every item's, so changed statistics recompute the store.
    /// With <paramref name="skips"/>, an utterance whose features fail is left out and listed there (with the file
    /// of the failing modality) instead of stopping the build. With <paramref name="shard"/> (i, N) only shard i of
    /// N of a sharded store is built (<see cref="FeatureCache.BuildShard"/>).
    /// </summary>
    public static (FeatureCacheResult result, OovReport oov) BuildPretraining(
        KaldiDataDir dir,
        string storeDir,
        FrontEndOptions o,
        int parallelism = 1,
        IProgress<FeatureCacheProgress>? progress = null,
        SkipReport? skips = null,
        int heldOutPerSpeaker = 1,
        (int Shard, int Count)? shard = null
    )
    {
        if (!dir.HasVideo)
        {
            throw new InvalidDataException($"{dir.Directory}: no video.scp; the model needs a video source per utterance");
        }
        var tokenizer = new Tokenizer(o.LowerCase);
        var tokens = dir.Utterances.ToDictionary(u => u.Id, u => tokenizer.Tokenize(u.Transcript, $"{dir.Directory}/text: {u.Id}"));
        var vectors = GloVe.Read(o.WordVectors, tokens.Values.SelectMany(t => t).ToHashSet());
        var oov = new OovReport();
        foreach (var t in tokens.Values)
        {
            oov.Add(vectors.Embed(t));
        }
        var extra = new Dictionary<string, string>();
        if (o.Cmvn == CmvnMode.Global)
        {
            o = o with
            {
                GlobalCmvn = o.GlobalCmvn ?? TrainingCmvn.Compute(dir, o, heldOutPerSpeaker, storeDir, skips != null, parallelism),
            };
            extra[TrainingCmvn.FileName] = o.GlobalStats().ToJson();
        }
        var extractor = Extractor(o);
        // ffmpeg's start-up costs more than decoding a short clip: the videos of a chunk are decoded in one process.
        var batches = new VideoFrameBatches(o.VideoFps, extractor.FrameWidth, extractor.FrameHeight, extractor.ScaleFlags);
        var utterances = dir.Utterances;
        string settings = o.Describe() + "\n" + FeatureCache.FileFingerprint("", o.WordVectors);
        Func<Utterance, string> fingerprint = u => FeatureCache.FileFingerprint(settings + "\n" + u.Transcript, u.WavPath, u.VideoPath!);
        Func<Utterance, IReadOnlyDictionary<string, float[,]>> compute = u => new Dictionary<string, float[,]>
        {
            [Audio] = ModalityFailedException.Guard(Audio, () => AudioFeatures(u.WavPath, o, u.Id)),
            [Video] = ModalityFailedException.Guard(Video, () => VideoFeaturesOf(u.VideoPath!, o, extractor, u.Id, batches)),
            [Text] = ModalityFailedException.Guard(Text, () => vectors.Embed(tokens[u.Id]).Vectors),
        };
        var options = new FeatureCacheOptions
        {
            Parallelism = parallelism,
            ChunkSize = batches.Batched ? VideoBatch : 0,
            BeforeChunk = batches.Batched ? positions => batches.Prefetch(positions.Select(i => utterances[i].VideoPath!)) : null,
            Float16Modalities = [Video],
            SkipFailedItems = skips != null,
            ExtraFiles = extra,
        };
        var result = shard is var (i, n)
            ? FeatureCache.BuildShard(storeDir, dir.Utterances, u => u.Id, fingerprint, compute, i, n, options, progress)
            : FeatureCache.Build(storeDir, dir.Utterances, u => u.Id, fingerprint, compute, options, progress);
        if (skips != null)
        {
            var byId = dir.Utterances.ToDictionary(u => u.Id);
            skips.AddFeatureCache(
                "pretraining features",
                result,
                (id, modality) =>
                    modality switch
                    {
                        Video => byId[id].VideoPath!,
                        Text => Path.Combine(dir.Directory, "text"),
                        _ => byId[id].WavPath,
                    }
            );
        }
        return (result, oov);
    }

    /// <summary>Store item id of an emotion segment: <c>video[index]</c>.</summary>
    public static string SegmentId(string videoId, int index) => $"{videoId}[{index}]";

    /// <summary>
    /// The video of a segment id made by <see cref="SegmentId"/> (<c>video[index]</c> → <c>video</c>): the cluster
    /// a segment belongs to. Throws naming the id when it is not of that form.
    /// </summary>
    public static string VideoOfSegment(string segmentId)
    {
        int open = segmentId.LastIndexOf('[');
        if (
            open <= 0
            || !segmentId.EndsWith(']')
            || !int.TryParse(
                segmentId.AsSpan(open + 1, segmentId.Length - open - 2),
                System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture,
                out _
            )
        )
        {
            throw new FormatException($"segment id '{segmentId}' is not of the form video[index]; its video is unknown");
        }
        return segmentId[..open];
    }

    /// <summary>
    /// Builds one store per fold (<c>storeRoot/train</c>, <c>valid</c>, <c>test</c>) from a folder of .csd files:
    /// per labelled segment its audio, video and text rows and a 1 × 6 row of emotion intensities. Features are read
    /// from the .csd files only when some item must be (re)computed. A segment with no row in a modality or
    /// overlapping NaN/+inf rows, or whose features fail, stops the build with an error naming it, its .csd file and
    /// root; with <paramref name="skips"/>, it is left out of its fold's store and listed there with its .csd file.
    /// </summary>
    public static IReadOnlyDictionary<string, FeatureCacheResult> BuildEmotion(
        string csdDir,
        string foldsPath,
        MoseiOptions options,
        string storeRoot,
        IProgress<FeatureCacheProgress>? progress = null,
        SkipReport? skips = null
    )
    {
        // The features are read skipping bad segments either way, so that a bad segment fails as its own item (named
        // by the store build) rather than as whichever item happened to read the corpus first. Skipping changes which
        // segments are kept, never a kept segment's features: it is not part of the fingerprint.
        var readOptions = options with
        {
            SkipEmptySegments = true,
            SkipNaNSegments = true,
        };
        List<MoseiSegment> labelled;
        using (var labelsOnly = MoseiCorpus.Open(csdDir, foldsPath, options with { Modalities = MoseiModalities.None }))
        {
            labelled = labelsOnly.Load().ToList();
        }
        var sources = MoseiCorpus.Discover(csdDir).Values.Order(StringComparer.Ordinal).Append(foldsPath).ToArray();
        string fingerprint = FeatureCache.FileFingerprint(System.Text.Json.JsonSerializer.Serialize(options), sources);
        var full = new Lazy<(Dictionary<string, MoseiSegment> Segments, Dictionary<string, MoseiSkip> Skipped)>(() =>
        {
            using var corpus = MoseiCorpus.Open(csdDir, foldsPath, readOptions);
            var segments = corpus.Segments().ToDictionary(s => SegmentId(s.VideoId, s.Index));
            return (segments, corpus.Report.Skipped.ToDictionary(s => SegmentId(s.VideoId, s.Index)));
        });
        var results = new Dictionary<string, FeatureCacheResult>();
        foreach (var fold in labelled.Select(s => s.Fold).Distinct().Order())
        {
            string name = fold.ToString().ToLowerInvariant();
            var items = labelled.Where(s => s.Fold == fold).ToList();
            results[name] = FeatureCache.Build(
                Path.Combine(storeRoot, name),
                items,
                s => SegmentId(s.VideoId, s.Index),
                _ => fingerprint,
                s =>
                {
                    string id = SegmentId(s.VideoId, s.Index);
                    if (full.Value.Skipped.TryGetValue(id, out var bad))
                    {
                        throw new InvalidDataException(
                            $"{bad.Reason}; the segment is unusable (a SkipReport, i.e. --skip-bad, skips such segments)"
                        );
                    }
                    var seg = full.Value.Segments.TryGetValue(id, out var found)
                        ? found
                        : throw new InvalidDataException($"{csdDir}: segment {id} has labels but was not read with its features");
                    var labels = new float[1, seg.Intensities.Length];
                    for (int e = 0; e < seg.Intensities.Length; e++)
                    {
                        labels[0, e] = seg.Intensities[e];
                    }
                    return new Dictionary<string, float[,]>
                    {
                        [Audio] = seg.Audio!,
                        [Video] = seg.Video!,
                        [Text] = seg.Text!,
                        [Labels] = labels,
                    };
                },
                new FeatureCacheOptions { Float16Modalities = [Video], SkipFailedItems = skips != null },
                progress
            );
            skips?.AddFeatureCache(
                $"emotion {name}",
                results[name],
                (id, _) => full.IsValueCreated && full.Value.Skipped.TryGetValue(id, out var bad) ? bad.File : csdDir
            );
        }
        return results;
    }
}
