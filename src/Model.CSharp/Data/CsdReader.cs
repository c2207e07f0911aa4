using PureHDF;
using PureHDF.VOL.Native;

namespace Research.Model.Data;

/// <summary>
/// Reads a CMU-MultimodalSDK computational sequence (<c>.csd</c>, HDF5): one top-level group <c>&lt;root&gt;</c> with
/// <c>&lt;root&gt;/data/&lt;video&gt;/features</c> (n × d floats) and <c>&lt;root&gt;/data/&lt;video&gt;/intervals</c>
/// (n × 2 seconds), and <c>&lt;root&gt;/metadata/&lt;key&gt;</c> strings (JSON text in SDK files).
/// Datasets may be contiguous, or chunked and deflate-compressed (gzip, as the SDK's <c>deploy</c> and
/// <see cref="CsdWriter"/> write them): they read the same. <see cref="Open"/> checks the file and every video's
/// shapes (headers only); <see cref="Read"/> reads one video's data.
/// Every error names the file, and the root and video where there is one.
/// </summary>
public sealed class CsdReader : IDisposable
{
    readonly NativeFile file;
    readonly IH5Group data;
    readonly Dictionary<string, (int Rows, IH5Dataset Features, IH5Dataset Intervals)> videos;

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Name of the top-level group (e.g. <c>COVAREP</c>, <c>All Labels</c>).</summary>
    public string Root { get; }

    /// <summary>Video ids under <c>&lt;root&gt;/data</c>, in ordinal order.</summary>
    public IReadOnlyList<string> VideoIds { get; }

    /// <summary>Metadata key → stored string (JSON text as the SDK writes it); empty when there is no metadata group.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Feature dimension d, the same for every video; 0 when the file has no videos.</summary>
    public int Dimension { get; }

    CsdReader(string path, NativeFile file)
    {
        Path = path;
        this.file = file;
        var roots = Guard("listing the top-level groups", () => file.Children().ToList());
        if (roots.Count != 1 || roots[0] is not IH5Group rootGroup)
        {
            string names = string.Join(", ", roots.Select(r => $"'{r.Name}'"));
            throw new InvalidDataException($"{path}: expected exactly one top-level group (the root), found [{names}]");
        }
        Root = rootGroup.Name;
        string where = $"{path}: root '{Root}'";
        if (
            !Guard("looking for data", () => rootGroup.LinkExists("data"))
            || Guard("opening data", () => rootGroup.Get("data")) is not IH5Group dataGroup
        )
        {
            throw new InvalidDataException($"{where}: no group '{Root}/data'");
        }
        data = dataGroup;
        Metadata = ReadMetadata(rootGroup, where);

        videos = new Dictionary<string, (int, IH5Dataset, IH5Dataset)>(StringComparer.Ordinal);
        int dimension = -1;
        string? firstVideo = null;
        foreach (var child in Guard("listing the videos", () => dataGroup.Children().ToList()))
        {
            string at = $"{where}, video '{child.Name}'";
            if (child is not IH5Group video)
            {
                throw new InvalidDataException($"{at}: expected a group holding 'features' and 'intervals'");
            }
            var features = Dataset(video, "features", at);
            var intervals = Dataset(video, "intervals", at);
            var (fRows, d) = Shape2(features, "features", at);
            var (iRows, two) = Shape2(intervals, "intervals", at);
            if (two != 2)
            {
                throw new InvalidDataException($"{at}: intervals must be (n, 2), got ({iRows}, {two})");
            }
            if (fRows != iRows)
            {
                throw new InvalidDataException($"{at}: features have {fRows} rows but intervals have {iRows}");
            }
            if (dimension >= 0 && d != dimension)
            {
                throw new InvalidDataException(
                    $"{at}: features have dimension {d}, but video '{firstVideo}' has {dimension}; one root has one dimension"
                );
            }
            dimension = d;
            firstVideo ??= child.Name;
            videos.Add(child.Name, (fRows, features, intervals));
        }
        Dimension = Math.Max(dimension, 0);
        VideoIds = videos.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Opens <paramref name="path"/>: checks it is a complete HDF5 file with one root group, a <c>data</c> group whose
    /// videos all have (n, d) features and (n, 2) intervals with one d, and reads the metadata.
    /// </summary>
    public static CsdReader Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file", path);
        }
        Hdf5Superblock.Check(path);
        NativeFile file;
        try
        {
            file = H5File.OpenRead(path);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{path}: cannot open as HDF5: {e.Message}", e);
        }
        try
        {
            return new CsdReader(path, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The root group's name of <paramref name="path"/>, reading only the superblock and the top level (cheap even
    /// for large files); throws naming the file unless it is a complete HDF5 file with exactly one top-level group.
    /// </summary>
    public static string ReadRoot(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file", path);
        }
        Hdf5Superblock.Check(path);
        try
        {
            using var file = H5File.OpenRead(path);
            var roots = file.Children().ToList();
            if (roots.Count != 1 || roots[0] is not IH5Group)
            {
                string names = string.Join(", ", roots.Select(r => $"'{r.Name}'"));
                throw new InvalidDataException($"{path}: expected exactly one top-level group (the root), found [{names}]");
            }
            return roots[0].Name;
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{path}: cannot read the root group (corrupt or truncated file?): {e.Message}", e);
        }
    }

    /// <summary>Whether the file holds <paramref name="videoId"/>.</summary>
    public bool Contains(string videoId) => videos.ContainsKey(videoId);

    /// <summary>Number of rows of <paramref name="videoId"/> (from the header; no data is read).</summary>
    public int Rows(string videoId) => Entry(videoId).Rows;

    /// <summary>
    /// Reads one video: features as float32 (float64 files are converted), intervals as float64. Throws naming the
    /// file, root and video when the video is absent, an interval is not finite or has start &gt; end, or the data
    /// cannot be read (a truncated or corrupt file).
    /// </summary>
    public CsdSequence Read(string videoId)
    {
        var (rows, featuresSet, intervalsSet) = Entry(videoId);
        string at = $"{Path}: root '{Root}', video '{videoId}'";
        float[,] features = ReadFloats(featuresSet, at);
        double[,] intervals = ReadDoubles(intervalsSet, "intervals", at);
        if (features.GetLength(0) != rows || intervals.GetLength(0) != rows)
        {
            throw new InvalidDataException(
                $"{at}: read {features.GetLength(0)} feature and {intervals.GetLength(0)} interval rows, expected {rows}"
            );
        }
        int bad = CsdSequence.FirstBadInterval(intervals);
        if (bad >= 0)
        {
            throw new InvalidDataException(
                $"{at}: interval of row {bad} is [{intervals[bad, 0]}, {intervals[bad, 1]}]; expected finite start <= end"
            );
        }
        return new CsdSequence(features, intervals);
    }

    /// <inheritdoc />
    public void Dispose() => file.Dispose();

    (int Rows, IH5Dataset Features, IH5Dataset Intervals) Entry(string videoId)
    {
        ArgumentNullException.ThrowIfNull(videoId);
        if (!videos.TryGetValue(videoId, out var entry))
        {
            throw new KeyNotFoundException($"{Path}: root '{Root}' has no video '{videoId}'");
        }
        return entry;
    }

    T Guard<T>(string doing, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{Path}: {doing} failed (corrupt or truncated file?): {e.Message}", e);
        }
    }

    IH5Dataset Dataset(IH5Group video, string name, string at)
    {
        var found = Guard($"opening {at}/{name}", () => video.LinkExists(name) ? video.Get(name) : null);
        return found as IH5Dataset ?? throw new InvalidDataException($"{at}: no dataset '{name}'");
    }

    static (int, int) Shape2(IH5Dataset dataset, string name, string at)
    {
        try
        {
            return CheckShape2(dataset, name, at);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            // PureHDF decodes the header lazily: a damaged one surfaces here (an overflow, a bad index, ...).
            throw new InvalidDataException($"{at}: cannot read the shape and type of {name} (corrupt or truncated file?): {e.Message}", e);
        }
    }

    static (int, int) CheckShape2(IH5Dataset dataset, string name, string at)
    {
        var dims = dataset.Space.Dimensions;
        if (dims.Length != 2)
        {
            throw new InvalidDataException($"{at}: {name} must be two-dimensional, got shape ({string.Join(", ", dims)})");
        }
        if (dataset.Type.Class != H5DataTypeClass.FloatingPoint || dataset.Type.Size is not (4 or 8))
        {
            throw new InvalidDataException(
                $"{at}: {name} must be float32 or float64, got {dataset.Type.Class} of {dataset.Type.Size} bytes"
            );
        }
        if (dims[0] > int.MaxValue || dims[1] > int.MaxValue)
        {
            throw new InvalidDataException($"{at}: {name} has shape ({dims[0]}, {dims[1]}); at most {int.MaxValue} per dimension are read");
        }
        return ((int)dims[0], (int)dims[1]);
    }

    static float[,] ReadFloats(IH5Dataset dataset, string at)
    {
        if (dataset.Type.Size == 4)
        {
            return ReadOrThrow(() => dataset.Read<float[,]>(), "features", at);
        }
        double[,] wide = ReadDoubles(dataset, "features", at);
        var result = new float[wide.GetLength(0), wide.GetLength(1)];
        for (int i = 0; i < wide.GetLength(0); i++)
        {
            for (int j = 0; j < wide.GetLength(1); j++)
            {
                result[i, j] = (float)wide[i, j];
            }
        }
        return result;
    }

    static double[,] ReadDoubles(IH5Dataset dataset, string name, string at)
    {
        if (dataset.Type.Size == 8)
        {
            return ReadOrThrow(() => dataset.Read<double[,]>(), name, at);
        }
        float[,] narrow = ReadOrThrow(() => dataset.Read<float[,]>(), name, at);
        var result = new double[narrow.GetLength(0), narrow.GetLength(1)];
        for (int i = 0; i < narrow.GetLength(0); i++)
        {
            for (int j = 0; j < narrow.GetLength(1); j++)
            {
                result[i, j] = narrow[i, j];
            }
        }
        return result;
    }

    static T ReadOrThrow<T>(Func<T> read, string name, string at)
    {
        try
        {
            return read();
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{at}: cannot read {name} (corrupt or truncated file?): {e.Message}", e);
        }
    }

    IReadOnlyDictionary<string, string> ReadMetadata(IH5Group root, string where)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Guard("looking for metadata", () => root.LinkExists("metadata")))
        {
            return result;
        }
        if (Guard("opening metadata", () => root.Get("metadata")) is not IH5Group group)
        {
            throw new InvalidDataException($"{where}: '{Root}/metadata' is not a group");
        }
        foreach (var child in Guard("listing metadata", () => group.Children().ToList()))
        {
            string at = $"{where}, metadata '{child.Name}'";
            if (child is not IH5Dataset dataset)
            {
                throw new InvalidDataException($"{at}: expected a string dataset");
            }
            // The SDK writes a (1,) variable-length string; a scalar string is accepted too.
            // (PureHDF reports a variable-length string as class VariableLength; reading it as a string checks the rest.)
            var (type, dims) = Guard($"reading the header of {at}", () => (dataset.Type.Class, dataset.Space.Dimensions));
            bool isString = type is H5DataTypeClass.String or H5DataTypeClass.VariableLength;
            if (!isString || dims.Length > 1 || (dims.Length == 1 && dims[0] != 1))
            {
                throw new InvalidDataException(
                    $"{at}: expected one string (scalar or shape (1,)), got {type} of shape ({string.Join(", ", dims)})"
                );
            }
            result[child.Name] = ReadOrThrow(() => dims.Length == 0 ? dataset.Read<string>() : dataset.Read<string[]>()[0], "metadata", at);
        }
        return result;
    }
}
