using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Research.Model.Data;

/// <summary>
/// The layout of a sharded feature store: a folder of N complete stores <c>shard-00000-of-0000N/</c> …
/// <c>shard-(N−1)-of-N/</c>, shard s holding the items from position ⌊s·n/N⌋ to ⌊(s+1)·n/N⌋ (exclusive) of the n items,
/// so the shards in order are the items in their global order. Each shard is built on its own
/// (<see cref="FeatureCache.BuildShard"/>: by independent processes, or by the ranks of an MPI job), with its own lock,
/// crash safety and reuse of unchanged items; a shard whose items did not change is not rewritten. Each shard holds
/// <c>shard.json</c>: its number, the shard count and the build key (a hash of every item's id and input fingerprint
/// and of the storage options), which every shard of one build shares; <see cref="FeatureStore.Open"/> checks them.
/// Top-level extra files (<c>cmvn.json</c>) are copied beside the shards.
/// </summary>
public static partial class FeatureStoreShards
{
    /// <summary>The file in each shard that names its build.</summary>
    public const string ManifestFile = "shard.json";

    /// <summary>The folder name of shard <paramref name="shard"/> of <paramref name="count"/>.</summary>
    public static string Name(int shard, int count) => string.Create(CultureInfo.InvariantCulture, $"shard-{shard:D5}-of-{count:D5}");

    /// <summary>The positions [start, end) of the items of shard <paramref name="shard"/> of <paramref name="count"/> among <paramref name="items"/>.</summary>
    public static (int Start, int End) Range(int items, int shard, int count)
    {
        Check(shard, count);
        return ((int)((long)items * shard / count), (int)((long)items * (shard + 1) / count));
    }

    /// <summary>Throws unless 0 ≤ shard &lt; count ≤ 99,999.</summary>
    public static void Check(int shard, int count)
    {
        if (count < 1 || count > 99_999 || shard < 0 || shard >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {count}: expected 0 ≤ shard < count ≤ 99999");
        }
    }

    /// <summary>Parses "i/N" (0 ≤ i &lt; N), else a clear error.</summary>
    public static (int Shard, int Count) Parse(string text)
    {
        var parts = text.Split('/');
        if (
            parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int shard)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            && count >= 1
            && count <= 99_999
            && shard < count
        )
        {
            return (shard, count);
        }
        throw new ArgumentException($"--shard '{text}': expected i/N with 0 ≤ i < N (e.g. 0/4 … 3/4)");
    }

    [GeneratedRegex(@"^shard-(\d{5})-of-(\d{5})$")]
    private static partial Regex ShardName();

    /// <summary>The shard folders in <paramref name="store"/> as (shard, count, path), sorted; empty for a plain store.</summary>
    public static List<(int Shard, int Count, string Path)> Find(string store)
    {
        if (!Directory.Exists(store))
        {
            return [];
        }
        var found = new List<(int, int, string)>();
        foreach (string path in Directory.EnumerateDirectories(store))
        {
            var match = ShardName().Match(System.IO.Path.GetFileName(path));
            if (match.Success)
            {
                found.Add(
                    (
                        int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
                        int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
                        path
                    )
                );
            }
        }
        return [.. found.OrderBy(f => f.Item2).ThenBy(f => f.Item1)];
    }

    /// <summary>
    /// The shard folders of <paramref name="store"/> in order, after checking that they form one build: one shard
    /// count, every shard present, and the same build key in every <c>shard.json</c>; otherwise an error naming the
    /// shard (and how to rebuild it).
    /// </summary>
    public static List<string> Check(string store)
    {
        var found = Find(store);
        var counts = found.Select(f => f.Count).Distinct().ToList();
        if (counts.Count > 1)
        {
            throw new InvalidDataException(
                $"feature store {store} holds shards of {string.Join(" and of ", counts)} (e.g. {Name(0, counts[0])} and {Name(0, counts[1])}): a build with another shard count left the other ones; delete the store and build it again"
            );
        }
        int count = counts.Single();
        var paths = new List<string>();
        string? key = null;
        for (int s = 0; s < count; s++)
        {
            string name = Name(s, count);
            string path = System.IO.Path.Combine(store, name);
            if (!Directory.Exists(path))
            {
                string previous = path + FeatureCache.PreviousSuffix;
                string hint = Directory.Exists(previous)
                    ? $" ({previous} holds it from an interrupted build, which its next build restores)"
                    : "";
                throw new DirectoryNotFoundException(
                    $"feature store {store}: shard {name} is missing{hint}; build it (features.fsx pretrain ... --shard {s}/{count})"
                );
            }
            var (shard, of, build) = ReadManifest(path);
            if (shard != s || of != count)
            {
                throw new InvalidDataException($"feature store {store}: shard {name}'s {ManifestFile} says it is shard {shard} of {of}");
            }
            if (key is null)
            {
                key = build;
            }
            else if (build != key)
            {
                throw new InvalidDataException(
                    $"feature store {store}: shard {name} comes from another build than {Name(0, count)} (other items or settings; build key {build[..12]}… vs {key[..12]}…); rebuild it with the same inputs and flags (features.fsx pretrain ... --shard {s}/{count})"
                );
            }
            paths.Add(path);
        }
        return paths;
    }

    static (int Shard, int Count, string Build) ReadManifest(string shardDir)
    {
        string path = System.IO.Path.Combine(shardDir, ManifestFile);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            return (root.GetProperty("shard").GetInt32(), root.GetProperty("count").GetInt32(), root.GetProperty("build").GetString()!);
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"feature store shard {shardDir}: {ManifestFile} is missing or unreadable ({e.Message})", e);
        }
    }

    /// <summary>The manifest text of a shard.</summary>
    internal static string Manifest(int shard, int count, string build) =>
        JsonSerializer.Serialize(
            new
            {
                shard,
                count,
                build,
            },
            new JsonSerializerOptions { WriteIndented = true }
        ) + "\n";

    /// <summary>
    /// The build key of a sharded build: SHA-256 over the shard count, the storage options and every item's id and
    /// input fingerprint in order (a fingerprint that fails counts by its error message).
    /// </summary>
    internal static string BuildKey<T>(
        IReadOnlyList<T> items,
        Func<T, string> idOf,
        Func<T, string> fingerprintOf,
        int count,
        FeatureCacheOptions options
    )
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text + "\n"));
        Add($"shards {count}");
        Add($"float16 {string.Join(",", options.Float16Modalities.Order(StringComparer.Ordinal))}");
        Add($"skip {options.SkipFailedItems}");
        foreach (var (name, content) in options.ExtraFiles.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Add($"extra {name} {Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(content)))}");
        }
        foreach (var item in items)
        {
            string fingerprint;
            try
            {
                fingerprint = fingerprintOf(item);
            }
            catch (Exception e)
            {
                fingerprint = "failed: " + e.Message;
            }
            Add(idOf(item) + "\t" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint))));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
