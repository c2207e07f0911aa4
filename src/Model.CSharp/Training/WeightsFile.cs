using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>
/// The keys of a weights file in TorchSharp's format (<c>module.save</c>): entry count (LEB128), then per entry
/// the key (length-prefixed UTF-8), dtype code, rank and dimensions (LEB128) and the raw bytes. Reading the keys
/// first lets a load check every key and shape against the module and fail with a named error, never half-loaded.
/// </summary>
public static class WeightsFile
{
    /// <summary>Each key of the file with its dtype and shape, in file order.</summary>
    public static IReadOnlyList<(string Key, ScalarType Type, long[] Shape)> Entries(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        try
        {
            long count = Decode(reader);
            var entries = new List<(string, ScalarType, long[])>();
            for (long i = 0; i < count; i++)
            {
                string key = reader.ReadString();
                var type = (ScalarType)Decode(reader);
                var shape = new long[Decode(reader)];
                for (int d = 0; d < shape.Length; d++)
                {
                    shape[d] = Decode(reader);
                }
                using var probe = empty(1, dtype: type);
                stream.Seek(shape.Aggregate(1L, (a, b) => a * b) * probe.ElementSize, SeekOrigin.Current);
                entries.Add((key, type, shape));
            }
            if (stream.Position != stream.Length)
            {
                throw new InvalidDataException($"weights file {path}: {stream.Length - stream.Position} bytes after its {count} entries");
            }
            return entries;
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"weights file {path} is truncated");
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="module"/> after checking that the file has exactly the
    /// module's keys, each with the module's shape and dtype: otherwise an error names the file, the key and the
    /// expected and actual shape, and nothing is loaded.
    /// </summary>
    public static void LoadExact(nn.Module module, string path)
    {
        var expected = module.state_dict();
        var found = Entries(path);
        var problems = new List<string>();
        var seen = new HashSet<string>();
        foreach (var (key, type, shape) in found)
        {
            seen.Add(key);
            if (!expected.TryGetValue(key, out var tensor))
            {
                problems.Add($"unexpected key '{key}' (shape [{string.Join(", ", shape)}])");
            }
            else if (!tensor.shape.SequenceEqual(shape) || tensor.dtype != type)
            {
                problems.Add(
                    $"key '{key}': expected [{string.Join(", ", tensor.shape)}] {tensor.dtype}, found [{string.Join(", ", shape)}] {type}"
                );
            }
        }
        foreach (var (key, tensor) in expected)
        {
            if (!seen.Contains(key))
            {
                problems.Add($"missing key '{key}' (expected shape [{string.Join(", ", tensor.shape)}])");
            }
        }
        if (problems.Count > 0)
        {
            throw new InvalidDataException($"weights file {path} does not fit the model: {string.Join("; ", problems)}");
        }
        module.load(path);
    }

    static long Decode(BinaryReader reader)
    {
        long result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = reader.ReadByte();
            result |= (long)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
    }
}
