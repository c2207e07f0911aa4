using Research.Model.Models;

namespace Research.Model.Data;

/// <summary>
/// CMU-MOSEI from a folder of <c>.csd</c> files and a folds file: one <see cref="MoseiSegment"/> per labelled segment
/// of every video in a fold, carrying the overlapping feature rows of each modality read. Files are found by their
/// root group (<see cref="MoseiOptions"/> names which root serves which modality), not by file name. Videos are read
/// one at a time, so enumerating <see cref="Segments"/> holds one video's features in memory.
/// </summary>
public sealed class MoseiCorpus : IDisposable
{
    static readonly MoseiModalities[] FeatureModalities = [MoseiModalities.Audio, MoseiModalities.Video, MoseiModalities.Text];

    /// <summary>Labels columns: sentiment, then the 6 emotions.</summary>
    public const int LabelColumns = 7;

    /// <summary>Emotion intensities are annotator means on a Likert scale from 0 to this (paper §4.1).</summary>
    public const float MaxIntensity = 3f;

    readonly CsdReader labels;
    readonly List<(MoseiModalities Modality, CsdReader Reader)> features;

    /// <summary>Every root found in the folder → its file.</summary>
    public IReadOnlyDictionary<string, string> FilesByRoot { get; }

    /// <summary>The options the corpus was opened with.</summary>
    public MoseiOptions Options { get; }

    /// <summary>The folds.</summary>
    public MoseiFolds Folds { get; }

    /// <summary>Fold mismatches (at open) and, once <see cref="Segments"/> has been enumerated, skips and replacements.</summary>
    public MoseiReport Report { get; }

    MoseiCorpus(
        IReadOnlyDictionary<string, string> files,
        MoseiOptions options,
        MoseiFolds folds,
        CsdReader labels,
        List<(MoseiModalities, CsdReader)> features
    )
    {
        FilesByRoot = files;
        Options = options;
        Folds = folds;
        this.labels = labels;
        this.features = features;
        var inFolds = folds.Videos.Values.SelectMany(v => v).ToList();
        Report = new MoseiReport
        {
            MissingFromData = inFolds.Where(v => !labels.Contains(v)).ToArray(),
            NotInAnyFold = labels.VideoIds.Where(v => folds.FoldOf(v) is null).ToArray(),
        };
    }

    /// <summary>Opens the <c>.csd</c> files of <paramref name="directory"/> with the folds of <paramref name="foldsPath"/>.</summary>
    public static MoseiCorpus Open(string directory, string foldsPath, MoseiOptions? options = null) =>
        Open(directory, MoseiFolds.Load(foldsPath), options);

    /// <summary>
    /// Opens the <c>.csd</c> files of <paramref name="directory"/>: the labels root and the root of each modality in
    /// <see cref="MoseiOptions.Modalities"/> must each be found in exactly one file; the labels must have 7 columns.
    /// </summary>
    public static MoseiCorpus Open(string directory, MoseiFolds folds, MoseiOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folds);
        options ??= new MoseiOptions();
        var files = Discover(directory);
        var opened = new List<CsdReader>();
        try
        {
            CsdReader OpenRoot(string root, string role)
            {
                if (!files.TryGetValue(root, out var path))
                {
                    string found = string.Join(", ", files.Keys.Select(k => $"'{k}'"));
                    throw new FileNotFoundException($"{directory}: no .csd file has root '{root}' ({role}); roots found: [{found}]");
                }
                var reader = CsdReader.Open(path);
                opened.Add(reader);
                return reader;
            }

            var labels = OpenRoot(options.LabelsRoot, "labels");
            if (labels.VideoIds.Count > 0 && labels.Dimension != LabelColumns)
            {
                throw new InvalidDataException(
                    $"{labels.Path}: root '{labels.Root}' has {labels.Dimension} columns; expected {LabelColumns} (sentiment, {string.Join(", ", MoseiSegment.Emotions)})"
                );
            }
            var features = FeatureModalities
                .Where(m => options.Modalities.HasFlag(m))
                .Select(m => (m, OpenRoot(options.RootOf(m), m.ToString().ToLowerInvariant())))
                .ToList();
            return new MoseiCorpus(files, options, folds, labels, features);
        }
        catch
        {
            opened.ForEach(r => r.Dispose());
            throw;
        }
    }

    /// <summary>
    /// Root → file for every <c>.csd</c> file directly in <paramref name="directory"/> (reading only each file's top
    /// level). Two files with one root, or a file that is not a complete HDF5 file with one root, is an error naming them.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Discover(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"{directory}: no such folder");
        }
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFiles(directory, "*.csd").Order(StringComparer.Ordinal))
        {
            string root = CsdReader.ReadRoot(path);
            if (!files.TryAdd(root, path))
            {
                throw new InvalidDataException($"{directory}: root '{root}' is in both {files[root]} and {path}");
            }
        }
        return files;
    }

    /// <summary>
    /// The segments of every video in a fold: train, valid, test; videos in the folds file's order; segments in
    /// label-row order. Videos of a fold absent from the labels are left out (listed in <see cref="MoseiReport.MissingFromData"/>).
    /// Feature -inf become <see cref="MoseiOptions.NegativeInfinityValue"/> (counted). A NaN or +inf feature, a label
    /// that is not finite or an emotion outside [0, 3], and a segment with no row in a required modality are errors
    /// naming the file, root, video and row or segment, unless the options skip such segments (listed in the report).
    /// </summary>
    public IEnumerable<MoseiSegment> Segments()
    {
        Report.Restart();
        foreach (var fold in new[] { MoseiFold.Train, MoseiFold.Valid, MoseiFold.Test })
        {
            foreach (string videoId in Folds.Videos[fold])
            {
                if (!labels.Contains(videoId))
                {
                    continue;
                }
                foreach (var segment in VideoSegments(videoId, fold))
                {
                    Report.Segments++;
                    yield return segment;
                }
            }
        }
    }

    /// <summary>All segments in memory, with the report complete.</summary>
    public IReadOnlyList<MoseiSegment> Load() => Segments().ToList();

    /// <inheritdoc />
    public void Dispose()
    {
        labels.Dispose();
        features.ForEach(f => f.Reader.Dispose());
    }

    sealed record Stream(MoseiModalities Modality, CsdReader Reader, CsdSequence? Sequence, HashSet<int> BadRows);

    List<MoseiSegment> VideoSegments(string videoId, MoseiFold fold)
    {
        var label = labels.Read(videoId);
        var streams = features.Select(f => ReadStream(f.Modality, f.Reader, videoId)).ToList();
        var result = new List<MoseiSegment>();
        for (int s = 0; s < label.Rows; s++)
        {
            double start = label.Start(s),
                end = label.End(s);
            string segment = $"video '{videoId}', segment {s} [{start}, {end}]";
            var (sentiment, intensities, present) = Labels(label, s, $"{labels.Path}: root '{labels.Root}', {segment}");
            var taken = new Dictionary<MoseiModalities, float[,]>();
            string? skip = null;
            string skipFile = "";
            foreach (var stream in streams)
            {
                string at = $"{stream.Reader.Path}: root '{stream.Reader.Root}', {segment}";
                skipFile = stream.Reader.Path;
                if (stream.Sequence is null)
                {
                    skip = Empty(at, "the file has no such video");
                    break;
                }
                int[] rows = IntervalOverlap.Rows(stream.Sequence.Intervals, start, end);
                if (rows.Length == 0)
                {
                    skip = Empty(at, "no feature row overlaps it (a row [s, e] overlaps when s < segment end and e > segment start)");
                    break;
                }
                int bad = Array.FindIndex(rows, stream.BadRows.Contains);
                if (bad >= 0)
                {
                    skip = $"{at}: row {rows[bad]} holds NaN or +inf";
                    break;
                }
                taken[stream.Modality] = IntervalOverlap.Take(stream.Sequence.Features, rows);
            }
            if (skip is not null)
            {
                Report.skipped.Add(new MoseiSkip(videoId, s, skip, skipFile));
                continue;
            }
            result.Add(
                new MoseiSegment(
                    videoId,
                    s,
                    start,
                    end,
                    fold,
                    sentiment,
                    intensities,
                    present,
                    taken.GetValueOrDefault(MoseiModalities.Audio),
                    taken.GetValueOrDefault(MoseiModalities.Video),
                    taken.GetValueOrDefault(MoseiModalities.Text)
                )
            );
        }
        return result;
    }

    string Empty(string at, string why) =>
        Options.SkipEmptySegments
            ? $"{at}: {why}"
            : throw new InvalidDataException($"{at}: {why}; the modality is required (MoseiOptions.SkipEmptySegments skips such segments)");

    /// <summary>Reads one video of a modality, replacing -inf (counted) and collecting the rows with NaN or +inf.</summary>
    Stream ReadStream(MoseiModalities modality, CsdReader reader, string videoId)
    {
        if (!reader.Contains(videoId))
        {
            return new Stream(modality, reader, null, []);
        }
        var sequence = reader.Read(videoId);
        var x = sequence.Features;
        var bad = new HashSet<int>();
        long replaced = 0;
        for (int i = 0; i < x.GetLength(0); i++)
        {
            for (int j = 0; j < x.GetLength(1); j++)
            {
                float v = x[i, j];
                if (float.IsNegativeInfinity(v))
                {
                    x[i, j] = Options.NegativeInfinityValue;
                    replaced++;
                }
                else if (!float.IsFinite(v))
                {
                    if (!Options.SkipNaNSegments)
                    {
                        throw new InvalidDataException(
                            $"{reader.Path}: root '{reader.Root}', video '{videoId}', row {i}, column {j}: feature is {v}; "
                                + "expected a finite value or -inf (MoseiOptions.SkipNaNSegments skips the segments overlapping such rows)"
                        );
                    }
                    bad.Add(i);
                }
            }
        }
        if (replaced > 0)
        {
            Report.replaced[reader.Root] = Report.replaced.GetValueOrDefault(reader.Root) + replaced;
        }
        return new Stream(modality, reader, sequence, bad);
    }

    static (float Sentiment, float[] Intensities, bool[] Present) Labels(CsdSequence label, int row, string at)
    {
        float sentiment = label.Features[row, 0];
        if (!float.IsFinite(sentiment))
        {
            throw new InvalidDataException($"{at}: sentiment is {sentiment}; expected a finite value");
        }
        int n = MoseiSegment.Emotions.Count;
        var intensities = new float[n];
        var present = new bool[n];
        for (int e = 0; e < n; e++)
        {
            float v = label.Features[row, e + 1];
            if (!(v >= 0 && v <= MaxIntensity))
            {
                throw new InvalidDataException($"{at}: {MoseiSegment.Emotions[e]} is {v}; expected an intensity in [0, {MaxIntensity}]");
            }
            intensities[e] = v;
            present[e] = v > 0;
        }
        return (sentiment, intensities, present);
    }
}
