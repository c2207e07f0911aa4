using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace Research.Model.Data;

/// <summary>
/// Computes each item's features once into a <see cref="FeatureStore"/> (one per split) and recomputes only what
/// changed. Each item has a caller-defined fingerprint string of its inputs (e.g. <see cref="FileFingerprint"/>:
/// source paths, sizes, modification times and a hash of the feature options); an item whose id and fingerprint
/// (and float16 choice) match the previous store is copied from it, byte for byte.
/// <para>
/// Crash safety: the new store is built in <c>&lt;store&gt;.building</c> and renamed into place (the old one moved
/// to <c>&lt;store&gt;.previous</c> for the instant between the two renames, then deleted). A build killed at any
/// point leaves the previous store intact, or at <c>&lt;store&gt;.previous</c>, from where the next build restores
/// it; a reader never opens <c>.building</c>, and a store is complete only once its index (with its checksum) is
/// written. <c>&lt;store&gt;.lock</c> keeps two builds of one store from running at once (it stays after the build).
/// </para>
/// </summary>
public static class FeatureCache
{
    internal const string BuildingSuffix = ".building";
    internal const string PreviousSuffix = ".previous";
    internal const string LockSuffix = ".lock";

    /// <summary>The store's human-readable summary of its last build (counts, modalities, skipped items).</summary>
    public const string ReportFile = "build-report.json";

    /// <summary>
    /// Builds or updates the store at <paramref name="storeDir"/> with <paramref name="items"/>, in their order.
    /// <paramref name="computeFeatures"/> returns an item's matrices (rows = frames) by modality name; it runs only
    /// for items that are new or whose fingerprint changed. A failure (an exception, a NaN or ±inf value, a width
    /// that differs from the modality's other items) stops the build with a <see cref="FeatureItemException"/>
    /// naming the item and modality and leaves the previous store as it was, unless
    /// <see cref="FeatureCacheOptions.SkipFailedItems"/>. When nothing changed the store is not rewritten.
    /// </summary>
    public static FeatureCacheResult Build<T>(
        string storeDir,
        IReadOnlyList<T> items,
        Func<T, string> idOf,
        Func<T, string> fingerprintOf,
        Func<T, IReadOnlyDictionary<string, float[,]>> computeFeatures,
        FeatureCacheOptions? options = null,
        IProgress<FeatureCacheProgress>? progress = null
    )
    {
        options ??= new FeatureCacheOptions();
        if (options.Parallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Parallelism, "Parallelism must be at least 1");
        }
        string store = Path.GetFullPath(storeDir).TrimEnd(Path.DirectorySeparatorChar);
        CheckExtraFiles(store, options.ExtraFiles);
        var ids = CheckIds(store, items, idOf);
        Directory.CreateDirectory(Path.GetDirectoryName(store)!);
        using var lockFile = AcquireLock(store);
        string building = store + BuildingSuffix;
        Recover(store, building, store + PreviousSuffix);
        var (old, problem) = OpenPrevious(store);
        try
        {
            var build = new Builder<T>(store, items, ids, fingerprintOf, computeFeatures, options, progress, old);
            if (build.Plan())
            {
                old?.Dispose();
                old = null;
                UpdateExtraFiles(store, options.ExtraFiles);
                return build.Unchanged();
            }
            AtomicFolder.DeleteIfExists(building);
            Directory.CreateDirectory(building);
            var result = build.Write(building, problem);
            old?.Dispose();
            old = null;
            AtomicFolder.Swap(building, store, store + PreviousSuffix);
            return result;
        }
        catch
        {
            AtomicFolder.DeleteIfExists(building);
            throw;
        }
        finally
        {
            old?.Dispose();
        }
    }

    /// <summary>
    /// Builds or updates shard <paramref name="shard"/> of <paramref name="count"/> of the sharded store at
    /// <paramref name="storeDir"/> (<see cref="FeatureStoreShards"/>): the shard's consecutive share of
    /// <paramref name="items"/> (all the store's items, in order, as every shard's builder must be given) goes to
    /// <c>storeDir/shard-SSSSS-of-NNNNN</c> with <see cref="Build"/> (so a shard whose items are unchanged is not
    /// rewritten), with <c>shard.json</c> naming the build; the extra files also go beside the shards. Shards may be
    /// built at the same time by other processes. A folder that holds a plain store or shards of another count is
    /// refused (nothing is written).
    /// </summary>
    public static FeatureCacheResult BuildShard<T>(
        string storeDir,
        IReadOnlyList<T> items,
        Func<T, string> idOf,
        Func<T, string> fingerprintOf,
        Func<T, IReadOnlyDictionary<string, float[,]>> computeFeatures,
        int shard,
        int count,
        FeatureCacheOptions? options = null,
        IProgress<FeatureCacheProgress>? progress = null
    )
    {
        options ??= new FeatureCacheOptions();
        FeatureStoreShards.Check(shard, count);
        string store = Path.GetFullPath(storeDir).TrimEnd(Path.DirectorySeparatorChar);
        CheckExtraFiles(store, options.ExtraFiles);
        CheckIds(store, items, idOf);
        if (File.Exists(Path.Combine(store, FeatureStoreIndex.IndexFile)) || File.Exists(Path.Combine(store, FeatureStoreIndex.DataFile)))
        {
            throw new IOException(
                $"feature store {store} is a plain (unsharded) store; shards would mix two layouts: delete it, or build the shards into another folder"
            );
        }
        var other = FeatureStoreShards.Find(store).FirstOrDefault(f => f.Count != count);
        if (other.Path is not null)
        {
            throw new IOException(
                $"feature store {store} holds shards of {other.Count} ({Path.GetFileName(other.Path)}), not of {count}: delete the store to build it with {count} shards"
            );
        }
        string build = FeatureStoreShards.BuildKey(items, idOf, fingerprintOf, count, options);
        var (start, end) = FeatureStoreShards.Range(items.Count, shard, count);
        var slice = new List<T>(end - start);
        for (int i = start; i < end; i++)
        {
            slice.Add(items[i]);
        }
        var extra = new Dictionary<string, string>(options.ExtraFiles, StringComparer.Ordinal)
        {
            [FeatureStoreShards.ManifestFile] = FeatureStoreShards.Manifest(shard, count, build),
        };
        var beforeChunk = options.BeforeChunk;
        var shardOptions = new FeatureCacheOptions
        {
            Parallelism = options.Parallelism,
            ChunkSize = options.ChunkSize,
            BeforeChunk = beforeChunk is null ? null : positions => beforeChunk([.. positions.Select(i => i + start)]),
            SkipFailedItems = options.SkipFailedItems,
            Float16Modalities = options.Float16Modalities,
            ExtraFiles = extra,
        };
        var result = Build(
            Path.Combine(store, FeatureStoreShards.Name(shard, count)),
            slice,
            idOf,
            fingerprintOf,
            computeFeatures,
            shardOptions,
            progress
        );
        UpdateExtraFiles(store, options.ExtraFiles);
        return result;
    }

    /// <summary>
    /// A fingerprint of feature inputs: a hash of <paramref name="options"/> (the feature settings, as text) and each
    /// file's full path, size and modification time. A missing file is an error naming it.
    /// </summary>
    public static string FileFingerprint(string options, params string[] paths)
    {
        var text = new StringBuilder();
        text.Append("options ").Append(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(options)))).Append('\n');
        foreach (string path in paths)
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new FileNotFoundException($"feature source {info.FullName} does not exist", info.FullName);
            }
            text.Append($"{info.FullName}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}\n");
        }
        return text.ToString();
    }

    static void CheckExtraFiles(string store, IReadOnlyDictionary<string, string> files)
    {
        string[] own = [FeatureStoreIndex.IndexFile, FeatureStoreIndex.DataFile, ReportFile];
        foreach (string name in files.Keys)
        {
            if (string.IsNullOrEmpty(name) || name != Path.GetFileName(name) || name.StartsWith('.') || own.Contains(name))
            {
                throw new ArgumentException(
                    $"feature store {store}: extra file '{name}' must be a plain file name, not one of {string.Join(", ", own)}"
                );
            }
        }
    }

    /// <summary>Writes the extra files whose content differs from the store's (each a temporary file renamed into place).</summary>
    static void UpdateExtraFiles(string store, IReadOnlyDictionary<string, string> files)
    {
        foreach (var (name, content) in files)
        {
            string path = Path.Combine(store, name);
            if (!File.Exists(path) || File.ReadAllText(path) != content)
            {
                AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(content)));
            }
        }
    }

    static List<string> CheckIds<T>(string store, IReadOnlyList<T> items, Func<T, string> idOf)
    {
        var ids = new List<string>(items.Count);
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            string id = idOf(items[i]);
            if (string.IsNullOrEmpty(id) || id.Any(char.IsControl))
            {
                throw new ArgumentException($"feature store {store}: item #{i} has id '{id}'; expected a non-empty id on one line");
            }
            if (!first.TryAdd(id, i))
            {
                throw new ArgumentException($"feature store {store}: item id '{id}' appears at #{first[id]} and #{i}");
            }
            ids.Add(id);
        }
        return ids;
    }

    static FileStream AcquireLock(string store)
    {
        try
        {
            return new FileStream(store + LockSuffix, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"feature store {store}: another build holds {store + LockSuffix}", e);
        }
    }

    /// <summary>Cleans up after a killed build: drops a half-built store, and restores or drops the aside copy.</summary>
    static void Recover(string store, string building, string previous)
    {
        AtomicFolder.DeleteIfExists(building);
        if (Directory.Exists(previous))
        {
            if (Directory.Exists(store))
            {
                Directory.Delete(previous, true);
            }
            else
            {
                Directory.Move(previous, store);
            }
        }
    }

    static (FeatureStore? Store, string? Problem) OpenPrevious(string store)
    {
        if (!Directory.Exists(store))
        {
            return (null, null);
        }
        bool looksLikeStore =
            File.Exists(Path.Combine(store, FeatureStoreIndex.IndexFile)) || File.Exists(Path.Combine(store, FeatureStoreIndex.DataFile));
        if (!looksLikeStore && Directory.EnumerateFileSystemEntries(store).Any())
        {
            throw new IOException($"feature store {store}: the folder exists and is not a feature store; refusing to replace it");
        }
        try
        {
            return (FeatureStore.Open(store), null);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>One build: the plan (what to reuse), then the writing of the new store.</summary>
    sealed class Builder<T>(
        string store,
        IReadOnlyList<T> items,
        List<string> ids,
        Func<T, string> fingerprintOf,
        Func<T, IReadOnlyDictionary<string, float[,]>> computeFeatures,
        FeatureCacheOptions options,
        IProgress<FeatureCacheProgress>? progress,
        FeatureStore? old
    )
    {
        readonly byte[][] fingerprints = new byte[items.Count][];
        readonly int[] reuse = new int[items.Count];
        readonly List<SkippedFeatureItem> skipped = [];
        readonly HashSet<string> float16 = options.Float16Modalities.ToHashSet(StringComparer.Ordinal);
        int removed;

        FeatureElementType TypeOf(string modality) => float16.Contains(modality) ? FeatureElementType.Float16 : FeatureElementType.Float32;

        /// <summary>Fingerprints every item and finds the reusable ones; true when the previous store is already this store.</summary>
        public bool Plan()
        {
            var wanted = ids.ToHashSet(StringComparer.Ordinal);
            removed = old == null ? 0 : old.Ids.Count(id => !wanted.Contains(id));
            bool same = old != null && old.Count == items.Count;
            for (int i = 0; i < items.Count; i++)
            {
                reuse[i] = -1;
                string fingerprint;
                try
                {
                    fingerprint = fingerprintOf(items[i]);
                }
                catch (Exception e)
                {
                    Fail(i, null, $"its fingerprint failed: {e.Message}", e);
                    same = false;
                    continue;
                }
                fingerprints[i] = SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint));
                int j = old?.IndexOf(ids[i]) ?? -1;
                if (j >= 0 && old!.Index.Fingerprint(j).SequenceEqual(fingerprints[i]) && TypesMatch(old.Index, j))
                {
                    reuse[i] = j;
                }
                same &= reuse[i] == i;
            }
            return same;
        }

        bool TypesMatch(FeatureStoreIndex index, int item) =>
            Enumerable
                .Range(0, index.Modalities.Count)
                .All(m => index.Rows(item, m) < 0 || index.Modalities[m].Type == TypeOf(index.Modalities[m].Name));

        public FeatureCacheResult Unchanged()
        {
            progress?.Report(new FeatureCacheProgress(items.Count, items.Count, 0, items.Count, 0, items.Count > 0 ? ids[^1] : ""));
            return new FeatureCacheResult(0, items.Count, 0, [], false, null);
        }

        void Fail(int i, string? modality, string reason, Exception? inner = null)
        {
            if (!options.SkipFailedItems)
            {
                throw new FeatureItemException(store, ids[i], i, modality, reason, inner);
            }
            skipped.Add(new SkippedFeatureItem(ids[i], modality == null ? reason : $"modality '{modality}': {reason}", modality));
        }

        /// <summary>Writes data.bin, index.bin and the report into <paramref name="folder"/>.</summary>
        public FeatureCacheResult Write(string folder, string? previousProblem)
        {
            var index = new FeatureStoreIndex();
            int computed = 0,
                reused = 0;
            int chunk =
                options.ChunkSize > 0 ? options.ChunkSize
                : options.Parallelism == 1 ? 1
                : options.Parallelism * 4;
            var copyBuffer = Array.Empty<byte>();
            using (
                var data = new FileStream(
                    Path.Combine(folder, FeatureStoreIndex.DataFile),
                    FileMode.CreateNew,
                    FileAccess.Write,
                    FileShare.None,
                    1 << 20
                )
            )
            {
                for (int start = 0; start < items.Count; start += chunk)
                {
                    int end = Math.Min(items.Count, start + chunk);
                    var outcomes = ComputeChunk(start, end);
                    for (int i = start; i < end; i++)
                    {
                        if (fingerprints[i] == null)
                        {
                            // its fingerprint failed, and it is skipped
                        }
                        else if (reuse[i] >= 0)
                        {
                            CopyReused(i, index, data, ref copyBuffer);
                            reused++;
                        }
                        else if (outcomes[i - start] is { } outcome && WriteComputed(i, outcome, index, data))
                        {
                            computed++;
                        }
                        progress?.Report(new FeatureCacheProgress(i + 1, items.Count, computed, reused, skipped.Count, ids[i]));
                    }
                }
                index.DataLength = data.Position;
                data.Flush(flushToDisk: true);
            }
            using (var file = new FileStream(Path.Combine(folder, FeatureStoreIndex.IndexFile), FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(index.Serialize());
                file.Flush(flushToDisk: true);
            }
            var result = new FeatureCacheResult(computed, reused, removed, skipped, true, previousProblem);
            AtomicFolder.WriteText(Path.Combine(folder, ReportFile), Report(index, result));
            foreach (var (name, content) in options.ExtraFiles)
            {
                AtomicFolder.WriteText(Path.Combine(folder, name), content);
            }
            return result;
        }

        Outcome?[] ComputeChunk(int start, int end)
        {
            var outcomes = new Outcome?[end - start];
            var todo = Enumerable.Range(start, end - start).Where(i => fingerprints[i] != null && reuse[i] < 0).ToList();
            if (todo.Count > 0)
            {
                options.BeforeChunk?.Invoke(todo);
            }
            if (options.Parallelism == 1)
            {
                foreach (int i in todo)
                {
                    outcomes[i - start] = Compute(i);
                }
            }
            else
            {
                Parallel.ForEach(
                    todo,
                    new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism },
                    i => outcomes[i - start] = Compute(i)
                );
            }
            return outcomes;
        }

        /// <summary>Runs the feature function for item i and checks its values (on the worker thread).</summary>
        Outcome Compute(int i)
        {
            IReadOnlyDictionary<string, float[,]>? features;
            try
            {
                features = computeFeatures(items[i]);
            }
            catch (ModalityFailedException e)
            {
                var inner = e.InnerException ?? e;
                return Outcome.Failed(e.Modality, $"computing its features failed: {inner.Message}", inner);
            }
            catch (Exception e)
            {
                return Outcome.Failed(null, $"computing its features failed: {e.Message}", e);
            }
            if (features == null)
            {
                return Outcome.Failed(null, "the feature function returned null");
            }
            var matrices = new List<(string, float[,])>();
            foreach (var (name, matrix) in features.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (string.IsNullOrEmpty(name) || name.Any(char.IsControl))
                {
                    return Outcome.Failed(name, "a modality name must be non-empty and on one line");
                }
                if (matrix == null)
                {
                    return Outcome.Failed(name, "the matrix is null");
                }
                if (FirstBadValue(matrix, TypeOf(name)) is { } bad)
                {
                    return Outcome.Failed(name, bad);
                }
                matrices.Add((name, matrix));
            }
            return new Outcome(matrices, null, null, null);
        }

        static string? FirstBadValue(float[,] matrix, FeatureElementType type)
        {
            var values = Values(matrix);
            int columns = matrix.GetLength(1);
            for (int k = 0; k < values.Length; k++)
            {
                float v = values[k];
                if (!float.IsFinite(v))
                {
                    return $"{v} at row {k / columns}, column {k % columns}";
                }
                if (type == FeatureElementType.Float16 && Math.Abs(v) > (float)Half.MaxValue)
                {
                    return $"{v} at row {k / columns}, column {k % columns} is beyond float16's ±65504";
                }
            }
            return null;
        }

        static Span<float> Values(float[,] matrix) =>
            MemoryMarshal.CreateSpan(ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(matrix)), matrix.Length);

        /// <summary>Appends a computed item; false when it failed and is skipped.</summary>
        bool WriteComputed(int i, Outcome outcome, FeatureStoreIndex index, FileStream data)
        {
            if (outcome.Error != null)
            {
                Fail(i, outcome.Modality, outcome.Error, outcome.Inner);
                return false;
            }
            foreach (var (name, matrix) in outcome.Matrices!)
            {
                int m = index.ModalityIndex(name);
                if (m >= 0 && index.Modalities[m].Columns != matrix.GetLength(1))
                {
                    Fail(i, name, $"{matrix.GetLength(1)} columns; the store's other items have {index.Modalities[m].Columns}");
                    return false;
                }
            }
            int item = index.AddItem(ids[i], fingerprints[i]);
            foreach (var (name, matrix) in outcome.Matrices!)
            {
                int m = index.ModalityIndex(name);
                if (m < 0)
                {
                    m = index.AddModality(new ModalityInfo(name, TypeOf(name), matrix.GetLength(1)));
                }
                index.SetBlock(item, m, data.Position, matrix.GetLength(0));
                var values = Values(matrix);
                if (index.Modalities[m].Type == FeatureElementType.Float32)
                {
                    data.Write(MemoryMarshal.AsBytes(values));
                }
                else
                {
                    byte[] buffer = ArrayPool<byte>.Shared.Rent(values.Length * sizeof(ushort));
                    var halves = MemoryMarshal.Cast<byte, Half>(buffer.AsSpan(0, values.Length * sizeof(ushort)));
                    for (int k = 0; k < values.Length; k++)
                    {
                        halves[k] = (Half)values[k];
                    }
                    data.Write(MemoryMarshal.AsBytes(halves));
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            return true;
        }

        void CopyReused(int i, FeatureStoreIndex index, FileStream data, ref byte[] buffer)
        {
            var from = old!.Index;
            int j = reuse[i];
            for (int om = 0; om < from.Modalities.Count; om++)
            {
                var info = from.Modalities[om];
                int m = index.ModalityIndex(info.Name);
                if (from.Rows(j, om) >= 0 && m >= 0 && index.Modalities[m].Columns != info.Columns)
                {
                    throw new FeatureItemException(
                        store,
                        ids[i],
                        i,
                        info.Name,
                        $"stored with {info.Columns} columns; the store's other items have {index.Modalities[m].Columns} (include the feature options in the fingerprint)"
                    );
                }
            }
            int item = index.AddItem(ids[i], fingerprints[i]);
            for (int om = 0; om < from.Modalities.Count; om++)
            {
                if (from.Rows(j, om) < 0)
                {
                    continue;
                }
                var info = from.Modalities[om];
                int m = index.ModalityIndex(info.Name);
                if (m < 0)
                {
                    m = index.AddModality(info);
                }
                int bytes = checked((int)from.BlockBytes(j, om));
                if (buffer.Length < bytes)
                {
                    buffer = new byte[bytes];
                }
                old.ReadBlockBytes(j, om, buffer.AsSpan(0, bytes));
                index.SetBlock(item, m, data.Position, from.Rows(j, om));
                data.Write(buffer, 0, bytes);
            }
        }

        string Report(FeatureStoreIndex index, FeatureCacheResult result) =>
            JsonSerializer.Serialize(
                new
                {
                    format = $"feature store v{FeatureStoreIndex.Version}",
                    builtUtc = DateTime.UtcNow.ToString("o"),
                    items = index.Count,
                    dataBytes = index.DataLength,
                    modalities = index.Modalities.Select(m => new
                    {
                        name = m.Name,
                        elementType = m.Type.ToString().ToLowerInvariant(),
                        columns = m.Columns,
                        items = index.RowsOf(index.ModalityIndex(m.Name)).Count(r => r >= 0),
                    }),
                    computed = result.Computed,
                    reused = result.Reused,
                    removed = result.Removed,
                    skippedCount = result.Skipped.Count,
                    skipped = result.Skipped.Select(s => new { id = s.Id, reason = s.Reason }),
                    previousStoreProblem = result.PreviousStoreProblem,
                },
                new JsonSerializerOptions { WriteIndented = true }
            ) + "\n";
    }

    /// <summary>A computed item: its checked matrices (by modality name, sorted), or why it failed.</summary>
    sealed record Outcome(List<(string Name, float[,] Matrix)>? Matrices, string? Modality, string? Error, Exception? Inner)
    {
        public static Outcome Failed(string? modality, string error, Exception? inner = null) => new(null, modality, error, inner);
    }
}
