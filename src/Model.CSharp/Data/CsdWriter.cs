using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;
using Research.Model.Models;

namespace Research.Model.Data;

/// <summary>
/// Writes a CMU-MultimodalSDK computational sequence (<c>.csd</c>, HDF5) in the layout the SDK's <c>write_CSD</c>
/// produces and h5py reads: <c>&lt;root&gt;/data/&lt;video&gt;/features</c> (float32, n × d),
/// <c>&lt;root&gt;/data/&lt;video&gt;/intervals</c> (float64, n × 2) and <c>&lt;root&gt;/metadata/&lt;key&gt;</c>, each a
/// shape-(1,) variable-length UTF-8 string. Like the SDK's <c>deploy</c> (h5py <c>create_dataset(...,
/// compression="gzip", compression_opts=9)</c> on features and intervals), features and intervals are chunked and
/// deflate-compressed at level 9 by default; <c>gzip: false</c> writes them contiguous and uncompressed. The metadata
/// strings are never compressed (neither are the SDK's). <see cref="CsdReader"/> reads both.
/// </summary>
public static class CsdWriter
{
    /// <summary>The deflate level the SDK's <c>deploy</c> uses (<c>compression_opts=9</c>).</summary>
    public const int GzipLevel = 9;

    /// <summary>
    /// Target bytes of one chunk (h5py's own guess aims at 8 KiB – 1 MiB): rows are grouped so that a chunk is at
    /// most this big (at least one row), and a video smaller than this is one chunk.
    /// </summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>
    /// Writes <paramref name="videos"/> under <paramref name="root"/> to <paramref name="path"/>, replacing it only when
    /// everything was written (a temporary file in the same folder, then a rename). The videos are consumed once,
    /// in order, and held in memory one at a time: HDF5 needs every shape before the first byte of data, so the
    /// data passes through a temporary spill file next to the output. Metadata values must be JSON text (the SDK
    /// <c>json.loads</c> them): a plain string is written as <c>"\"text\""</c>.
    /// Throws, naming the video, on an empty or duplicate id, an id with '/', features whose dimension differs from
    /// the first video's, intervals that are not (n, 2), not finite or have start &gt; end. Features may hold any
    /// float, -inf and NaN included (COVAREP has -inf). With <paramref name="gzip"/> (the default) features and
    /// intervals are deflate-compressed at <see cref="GzipLevel"/> in chunks of at most <see cref="ChunkBytes"/>; a
    /// video with no rows is written contiguous (HDF5 chunks cannot be empty).
    /// </summary>
    public static void Write(
        string path,
        string root,
        IEnumerable<(string VideoId, CsdSequence Sequence)> videos,
        IReadOnlyDictionary<string, string> metadata,
        bool gzip = true
    )
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(videos);
        ArgumentNullException.ThrowIfNull(metadata);
        CheckName(root, "root", path);
        foreach (var (key, value) in metadata)
        {
            CheckName(key, "metadata key", path);
            CheckJson(value, key, path);
        }

        string full = System.IO.Path.GetFullPath(path);
        string folder = System.IO.Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(folder);
        string stem = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}");
        string spillPath = stem + ".spill";
        string tempPath = stem + ".tmp";
        try
        {
            var entries = Spill(spillPath, full, root, videos);
            WriteHdf5(tempPath, root, entries, spillPath, metadata, gzip);
            File.Move(tempPath, full, overwrite: true);
        }
        finally
        {
            File.Delete(spillPath);
            File.Delete(tempPath);
        }
    }

    sealed record Entry(string VideoId, int Rows, int Dimension, long Offset);

    static List<Entry> Spill(string spillPath, string path, string root, IEnumerable<(string VideoId, CsdSequence Sequence)> videos)
    {
        var entries = new List<Entry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int dimension = -1;
        string? first = null;
        using var spill = new FileStream(spillPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        foreach (var (videoId, sequence) in videos)
        {
            CheckName(videoId, "video id", path);
            string at = $"{path}: root '{root}', video '{videoId}'";
            if (!seen.Add(videoId))
            {
                throw new ArgumentException($"{at}: video id given twice");
            }
            ArgumentNullException.ThrowIfNull(sequence, at);
            sequence.Validate(at);
            if (dimension >= 0 && sequence.Dimension != dimension)
            {
                throw new ArgumentException($"{at}: features have dimension {sequence.Dimension}, but video '{first}' has {dimension}");
            }
            dimension = sequence.Dimension;
            first ??= videoId;
            entries.Add(new Entry(videoId, sequence.Rows, sequence.Dimension, spill.Position));
            spill.Write(Bytes(sequence.Features));
            spill.Write(Bytes(sequence.Intervals));
        }
        return entries;
    }

    static void WriteHdf5(
        string tempPath,
        string root,
        List<Entry> entries,
        string spillPath,
        IReadOnlyDictionary<string, string> metadata,
        bool gzip
    )
    {
        var data = new H5Group();
        var datasets = new List<(H5Dataset<float[,]> Features, H5Dataset<double[,]> Intervals)>(entries.Count);
        foreach (var e in entries)
        {
            var features = Dataset<float>(e.Rows, e.Dimension, gzip);
            var intervals = Dataset<double>(e.Rows, 2, gzip);
            data[e.VideoId] = new H5Group { ["features"] = features, ["intervals"] = intervals };
            datasets.Add((features, intervals));
        }
        var meta = new H5Group();
        foreach (var (key, value) in metadata)
        {
            meta[key] = new[] { value };
        }
        var file = new H5File
        {
            [root] = new H5Group { ["data"] = data, ["metadata"] = meta },
        };

        using var spill = new FileStream(spillPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 20);
        using var writer = file.BeginWrite(tempPath);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            spill.Position = e.Offset;
            var features = new float[e.Rows, e.Dimension];
            var intervals = new double[e.Rows, 2];
            spill.ReadExactly(Bytes(features));
            spill.ReadExactly(Bytes(intervals));
            writer.Write(datasets[i].Features, features);
            writer.Write(datasets[i].Intervals, intervals);
        }
    }

    /// <summary>An (rows, columns) dataset: chunked and deflate-compressed when asked and not empty, else contiguous.</summary>
    static H5Dataset<T[,]> Dataset<T>(int rows, int columns, bool gzip)
        where T : unmanaged
    {
        ulong[] dims = [(ulong)rows, (ulong)columns];
        if (!gzip || rows == 0 || columns == 0)
        {
            return new H5Dataset<T[,]>(fileDims: dims);
        }
        int rowBytes = columns * Unsafe.SizeOf<T>();
        uint chunkRows = (uint)Math.Clamp(ChunkBytes / rowBytes, 1, rows);
        var deflate = new H5Filter(DeflateFilter.Id, new Dictionary<string, object> { [DeflateFilter.COMPRESSION_LEVEL] = GzipLevel });
        return new H5Dataset<T[,]>(
            fileDims: dims,
            chunks: [chunkRows, (uint)columns],
            datasetCreation: new H5DatasetCreation(Filters: [deflate])
        );
    }

    static Span<byte> Bytes<T>(T[,] array)
        where T : unmanaged => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(array), array.Length * Unsafe.SizeOf<T>());

    static void CheckName(string name, string what, string path)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/') || name == ".")
        {
            throw new ArgumentException($"{path}: {what} '{name}' is not a valid HDF5 link name (non-empty, no '/', not '.')");
        }
    }

    static void CheckJson(string value, string key, string path)
    {
        try
        {
            using var _ = JsonDocument.Parse(value ?? throw new ArgumentNullException(nameof(value), $"{path}: metadata '{key}' is null"));
        }
        catch (JsonException e)
        {
            throw new ArgumentException(
                $"{path}: metadata '{key}' must be JSON text (the SDK json.loads it), got \"{value}\": {e.Message}",
                e
            );
        }
    }
}
