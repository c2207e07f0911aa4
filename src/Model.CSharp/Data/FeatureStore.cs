using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace Research.Model.Data;

/// <summary>
/// A feature store written by <see cref="FeatureCache.Build"/>: a folder with <c>data.bin</c> (every item's matrices,
/// one after another, row-major, little-endian float32 or float16 per modality) and <c>index.bin</c> (per item: id,
/// fingerprint, and per modality rows and byte offset; see <c>FeatureStoreIndex</c>), plus a human-readable
/// <c>build-report.json</c>. Opening reads and checks the index only; <see cref="Read(int)"/> reads one item's
/// bytes by position. Reads are thread-safe (positional reads on one shared handle): any number of threads may
/// call <see cref="Read(int)"/> and the length queries at once; <see cref="Dispose"/> must not race them.
/// <para>
/// A store may instead be sharded (<see cref="FeatureStoreShards"/>): a folder of <c>shard-SSSSS-of-NNNNN/</c>
/// stores, each complete, holding consecutive items. <see cref="Open"/> reads it transparently: the items of the shards
/// in shard order (the global order), the same API, one open data file per shard.
/// </para>
/// </summary>
public sealed class FeatureStore : IDisposable
{
    readonly FeatureStoreIndex index;
    readonly SafeFileHandle[] data;
    readonly int[]? shardOf;
    readonly string[] folders;
    readonly Lazy<Dictionary<string, int>> positions;

    /// <summary>The store folder (absolute).</summary>
    public string Directory { get; }

    /// <summary>Number of items.</summary>
    public int Count => index.Count;

    /// <summary>Item ids in store order.</summary>
    public IReadOnlyList<string> Ids => index.Ids;

    /// <summary>Modality names, in order of first appearance.</summary>
    public IReadOnlyList<string> Modalities { get; }

    /// <summary>Shards of a sharded store (<see cref="FeatureStoreShards"/>); 1 for a plain store.</summary>
    public int ShardCount => data.Length;

    internal FeatureStoreIndex Index => index;

    /// <summary>
    /// The store's content fingerprint: the SHA-256 checksum that ends <c>index.bin</c> (lower-case hex). It covers
    /// every item's id, input fingerprint (sources, their sizes and modification times, the feature settings) and
    /// layout, so a store rebuilt from other inputs or settings has another; an unchanged rebuild keeps it. A sharded
    /// store's is the SHA-256 of its shards' fingerprints in order (one lower-case hex line each).
    /// </summary>
    public string Fingerprint { get; }

    /// <summary>The <see cref="Fingerprint"/> of the store in <paramref name="directory"/> (opened and checked, then closed).</summary>
    public static string FingerprintOf(string directory)
    {
        using var store = Open(directory);
        return store.Fingerprint;
    }

    FeatureStore(string directory, FeatureStoreIndex index, SafeFileHandle[] data, int[]? shardOf, string[] folders, string fingerprint)
    {
        Directory = directory;
        Fingerprint = fingerprint;
        this.index = index;
        this.data = data;
        this.shardOf = shardOf;
        this.folders = folders;
        Modalities = index.Modalities.Select(m => m.Name).ToList();
        positions = new Lazy<Dictionary<string, int>>(
            () => index.Ids.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i, StringComparer.Ordinal),
            LazyThreadSafetyMode.ExecutionAndPublication
        );
    }

    /// <summary>
    /// Opens a store: reads and checks <c>index.bin</c> (signature, checksum, bounds) and that <c>data.bin</c> has
    /// the length the index expects. A missing, corrupt or truncated store is an error naming the store (and, for
    /// a truncated data file, the first item it cuts). A folder of shards opens as one store
    /// (<see cref="FeatureStoreShards"/>); a missing shard, or shards of different builds, is an error naming the shard.
    /// </summary>
    public static FeatureStore Open(string directory)
    {
        string dir = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        if (
            System.IO.Directory.Exists(dir)
            && !File.Exists(Path.Combine(dir, FeatureStoreIndex.IndexFile))
            && !File.Exists(Path.Combine(dir, FeatureStoreIndex.DataFile))
            && FeatureStoreShards.Find(dir).Count > 0
        )
        {
            return OpenSharded(dir);
        }
        var (index, handle, fingerprint) = OpenPlain(dir);
        return new FeatureStore(dir, index, [handle], null, [dir], fingerprint);
    }

    static FeatureStore OpenSharded(string dir)
    {
        var shards = FeatureStoreShards.Check(dir);
        var handles = new List<SafeFileHandle>();
        try
        {
            var merged = new FeatureStoreIndex();
            var shardOf = new List<int>();
            var fingerprints = new StringBuilder();
            var seen = new Dictionary<string, string>(StringComparer.Ordinal); // modality -> first shard with it
            var owner = new Dictionary<string, string>(StringComparer.Ordinal); // item id -> its shard
            for (int s = 0; s < shards.Count; s++)
            {
                var (part, handle, fingerprint) = OpenPlain(shards[s]);
                handles.Add(handle);
                fingerprints.Append(fingerprint).Append('\n');
                string name = Path.GetFileName(shards[s]);
                var map = new int[part.Modalities.Count];
                for (int m = 0; m < part.Modalities.Count; m++)
                {
                    var info = part.Modalities[m];
                    int k = merged.ModalityIndex(info.Name);
                    if (k < 0)
                    {
                        k = merged.AddModality(info);
                        seen[info.Name] = name;
                    }
                    else if (merged.Modalities[k] != info)
                    {
                        var other = merged.Modalities[k];
                        throw new InvalidDataException(
                            $"feature store {dir}: shard {name} stores '{info.Name}' as {info.Type} × {info.Columns}, shard {seen[info.Name]} as {other.Type} × {other.Columns}: the shards come from different builds (other settings); rebuild {name}"
                        );
                    }
                    map[m] = k;
                }
                for (int i = 0; i < part.Count; i++)
                {
                    if (!owner.TryAdd(part.Ids[i], name))
                    {
                        throw new InvalidDataException(
                            $"feature store {dir}: item '{part.Ids[i]}' is in shard {owner[part.Ids[i]]} and in shard {name}: the shards come from different builds; rebuild them"
                        );
                    }
                    int item = merged.AddItem(part.Ids[i], part.Fingerprint(i));
                    for (int m = 0; m < part.Modalities.Count; m++)
                    {
                        merged.SetBlock(item, map[m], part.Offset(i, m), part.Rows(i, m));
                    }
                    shardOf.Add(s);
                }
            }
            string fingerprintAll = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprints.ToString())));
            return new FeatureStore(dir, merged, [.. handles], [.. shardOf], [.. shards], fingerprintAll);
        }
        catch
        {
            foreach (var h in handles)
            {
                h.Dispose();
            }
            throw;
        }
    }

    /// <summary>Opens and checks a plain (unsharded) store: its index, data handle and fingerprint.</summary>
    static (FeatureStoreIndex Index, SafeFileHandle Data, string Fingerprint) OpenPlain(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
        {
            string previous = dir + FeatureCache.PreviousSuffix;
            string hint = System.IO.Directory.Exists(previous)
                ? $"; {previous} holds the store of an interrupted build, which the next FeatureCache.Build restores"
                : "";
            throw new DirectoryNotFoundException($"feature store {dir} does not exist{hint}");
        }
        string indexPath = Path.Combine(dir, FeatureStoreIndex.IndexFile);
        string dataPath = Path.Combine(dir, FeatureStoreIndex.DataFile);
        if (!File.Exists(indexPath) || !File.Exists(dataPath))
        {
            throw new InvalidDataException(
                $"feature store {dir}: missing {FeatureStoreIndex.IndexFile} or {FeatureStoreIndex.DataFile}; not a complete feature store"
            );
        }
        byte[] indexBytes = File.ReadAllBytes(indexPath);
        var index = FeatureStoreIndex.Parse(indexBytes, dir);
        string fingerprint = Convert.ToHexStringLower(indexBytes.AsSpan(indexBytes.Length - FeatureStoreIndex.FingerprintBytes));
        var handle = File.OpenHandle(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length != index.DataLength)
            {
                throw new InvalidDataException(
                    $"feature store {dir}: {FeatureStoreIndex.DataFile} has {length} bytes, the index expects {index.DataLength}{FirstCut(index, length)}"
                );
            }
            return (index, handle, fingerprint);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    static string FirstCut(FeatureStoreIndex index, long length)
    {
        for (int i = 0; i < index.Count; i++)
        {
            for (int m = 0; m < index.Modalities.Count; m++)
            {
                if (index.Rows(i, m) >= 0 && index.Offset(i, m) + index.BlockBytes(i, m) > length)
                {
                    return $" (truncated: item '{index.Ids[i]}' (#{i}), modality '{index.Modalities[m].Name}' is cut)";
                }
            }
        }
        return " (the data file does not belong to this index)";
    }

    /// <summary>The position of an item, or -1 when the store has no such id.</summary>
    public int IndexOf(string id) => positions.Value.TryGetValue(id, out int i) ? i : -1;

    /// <summary>The width (columns) of a modality's matrices.</summary>
    public int Columns(string modality) => index.Modalities[ModalityIndex(modality)].Columns;

    /// <summary>How a modality is kept on disk.</summary>
    public FeatureElementType ElementType(string modality) => index.Modalities[ModalityIndex(modality)].Type;

    /// <summary>Rows (frames) of an item's matrix for a modality, without reading data; -1 when the item has none.</summary>
    public int Rows(int item, string modality) => index.Rows(CheckItem(item), ModalityIndex(modality));

    /// <summary>Rows of every item for a modality (-1 where absent), without reading data: for length-bucketed batches.</summary>
    public IReadOnlyList<int> Lengths(string modality) => index.RowsOf(ModalityIndex(modality)).AsReadOnly();

    /// <summary>An item's matrices, by modality (only the modalities it has).</summary>
    public IReadOnlyDictionary<string, float[,]> Read(int item)
    {
        CheckItem(item);
        var result = new Dictionary<string, float[,]>(StringComparer.Ordinal);
        for (int m = 0; m < index.Modalities.Count; m++)
        {
            if (index.Rows(item, m) >= 0)
            {
                result.Add(index.Modalities[m].Name, ReadMatrix(item, m));
            }
        }
        return result;
    }

    /// <summary>An item's matrix for one modality; an error when the item has none.</summary>
    public float[,] Read(int item, string modality)
    {
        int m = ModalityIndex(modality);
        if (index.Rows(CheckItem(item), m) < 0)
        {
            throw new KeyNotFoundException($"feature store {Directory}: item '{index.Ids[item]}' (#{item}) has no '{modality}' features");
        }
        return ReadMatrix(item, m);
    }

    /// <summary>
    /// Reads an item's matrix for one modality into <paramref name="destination"/>, row-major, converting float16 to
    /// float32: the allocation-free form of <see cref="Read(int, string)"/>, for batches written straight into a
    /// tensor's memory (<c>StoreBatches</c>). The destination must hold exactly <see cref="Rows"/> × <see cref="Columns"/>
    /// values; an error names the item when it has no such modality.
    /// </summary>
    public void ReadInto(int item, string modality, Span<float> destination)
    {
        int m = ModalityIndex(modality);
        int rows = index.Rows(CheckItem(item), m);
        if (rows < 0)
        {
            throw new KeyNotFoundException($"feature store {Directory}: item '{index.Ids[item]}' (#{item}) has no '{modality}' features");
        }
        long elements = (long)rows * index.Modalities[m].Columns;
        if (destination.Length != elements)
        {
            throw new ArgumentException(
                $"feature store {Directory}: item '{index.Ids[item]}' (#{item}) has {rows} × {index.Modalities[m].Columns} '{modality}' values; the destination holds {destination.Length}",
                nameof(destination)
            );
        }
        ReadValues(item, m, destination);
    }

    float[,] ReadMatrix(int item, int m)
    {
        var info = index.Modalities[m];
        int rows = index.Rows(item, m);
        long elements = (long)rows * info.Columns;
        if (elements > Array.MaxLength)
        {
            throw new FeatureItemException(
                Directory,
                index.Ids[item],
                item,
                info.Name,
                $"{rows} × {info.Columns} is too large for one array"
            );
        }
        var matrix = new float[rows, info.Columns];
        if (elements > 0)
        {
            ReadValues(
                item,
                m,
                MemoryMarshal.CreateSpan(ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(matrix)), (int)elements)
            );
        }
        return matrix;
    }

    /// <summary>An item's values for modality m (present) into a destination of exactly its size.</summary>
    void ReadValues(int item, int m, Span<float> values)
    {
        if (values.Length == 0)
        {
            return;
        }
        if (index.Modalities[m].Type == FeatureElementType.Float32)
        {
            ReadExactly(item, m, MemoryMarshal.AsBytes(values));
            return;
        }
        int bytes = values.Length * sizeof(ushort);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            ReadExactly(item, m, buffer.AsSpan(0, bytes));
            var halves = MemoryMarshal.Cast<byte, Half>(buffer.AsSpan(0, bytes));
            for (int k = 0; k < halves.Length; k++)
            {
                values[k] = (float)halves[k];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The stored bytes of an item's block (for copying into a new store).</summary>
    internal void ReadBlockBytes(int item, int m, Span<byte> destination) => ReadExactly(item, m, destination);

    void ReadExactly(int item, int m, Span<byte> destination)
    {
        long offset = index.Offset(item, m);
        var handle = data[shardOf?[item] ?? 0];
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(handle, destination[done..], offset + done);
            if (n == 0)
            {
                throw new FeatureItemException(
                    FolderOf(item),
                    index.Ids[item],
                    item,
                    index.Modalities[m].Name,
                    $"{FeatureStoreIndex.DataFile} ends at byte {offset + done}; expected {destination.Length} bytes from offset {offset} (truncated)"
                );
            }
            done += n;
        }
    }

    /// <summary>The folder holding an item's data: the store, or its shard.</summary>
    string FolderOf(int item) => folders[shardOf?[item] ?? 0];

    int CheckItem(int item)
    {
        if (item < 0 || item >= Count)
        {
            throw new ArgumentOutOfRangeException(nameof(item), item, $"feature store {Directory} has {Count} items");
        }
        return item;
    }

    int ModalityIndex(string modality)
    {
        int m = index.ModalityIndex(modality);
        if (m < 0)
        {
            throw new KeyNotFoundException(
                $"feature store {Directory} has no modality '{modality}' (it has: {string.Join(", ", Modalities)})"
            );
        }
        return m;
    }

    /// <summary>Closes the data file; not to be called while reads are running.</summary>
    public void Dispose()
    {
        foreach (var handle in data)
        {
            handle.Dispose();
        }
    }
}
