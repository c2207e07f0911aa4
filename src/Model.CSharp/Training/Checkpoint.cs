using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Research.Model.Training;

/// <summary>Where a run stands: the step done, its seed and resolved config, and the best evaluation so far.</summary>
public sealed record TrainerState
{
    /// <summary>Steps completed.</summary>
    public long Step { get; init; }

    /// <summary>The run's seed (data order and initialisation).</summary>
    public int Seed { get; init; }

    /// <summary>The resolved configuration the run started with (JSON).</summary>
    public string Config { get; init; } = "";

    /// <summary>Best selection score so far (higher is better), and the step it came from.</summary>
    public double? BestScore { get; init; }

    /// <summary>Step of <see cref="BestScore"/>.</summary>
    public long BestStep { get; init; }

    /// <summary>The most recent evaluation.</summary>
    public IReadOnlyDictionary<string, double> LastEvaluation { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// One file holding everything needed to continue a run exactly: the trainer state (JSON), torch's random-number
/// state, the model's weights and the optimiser's state. Written to a temporary file, flushed to disk and renamed,
/// so a process killed at any moment leaves the previous checkpoint or the new one, never half of one.
/// The checkpoint it replaces is kept as <c>PATH.prev</c> (the last two are kept), and each file carries the SHA-256
/// of its contents: a truncated or corrupt checkpoint is detected before anything is loaded, and
/// <see cref="LoadLatest"/> then falls back to the previous one, saying so.
/// Layout: "RCKPT002", payload length (int64, little-endian), SHA-256 of the payload (32 bytes), then the payload:
/// state JSON (length-prefixed UTF-8), RNG state (length-prefixed bytes), the module in TorchSharp's format, the
/// optimiser state in TorchSharp's format.
/// </summary>
public static class Checkpoint
{
    /// <summary>The first bytes of every checkpoint file of this format.</summary>
    public const string Magic = "RCKPT002";

    const int HeaderBytes = 8 + 8 + 32;

    /// <summary>Where <see cref="Save"/> keeps the checkpoint that <paramref name="path"/> held before.</summary>
    public static string PreviousPath(string path) => path + ".prev";

    /// <summary>Whether <paramref name="path"/> or its previous checkpoint exists (there is something to resume).</summary>
    public static bool Exists(string path) => File.Exists(path) || File.Exists(PreviousPath(path));

    /// <summary>Whether the file starts with this format's magic string (a trainer checkpoint, intact or not).</summary>
    public static bool IsCheckpoint(string path)
    {
        using var stream = File.OpenRead(path);
        var head = new byte[Magic.Length];
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && Encoding.ASCII.GetString(head) == Magic;
    }

    /// <summary>
    /// Writes a checkpoint atomically; the one it replaces becomes <see cref="PreviousPath"/> (replacing the one
    /// before). A failure (a full disk) leaves both as they were and no temporary file.
    /// </summary>
    public static void Save(string path, TrainerState state, nn.Module model, OptimizerHelper optimizer)
    {
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(new byte[HeaderBytes]);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                using (var hashing = new HashingStream(stream, hash))
                using (var writer = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
                {
                    writer.Write(JsonSerializer.Serialize(state));
                    var rng = get_rng_state();
                    var bytes = rng.data<byte>().ToArray();
                    writer.Write(bytes.Length);
                    writer.Write(bytes);
                    model.save(writer);
                    optimizer.save_state_dict(writer);
                    writer.Flush();
                }
                long length = stream.Position - HeaderBytes;
                var header = new byte[HeaderBytes];
                Encoding.ASCII.GetBytes(Magic).CopyTo(header, 0);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), length);
                hash.GetHashAndReset().CopyTo(header, 16);
                stream.Position = 0;
                stream.Write(header);
                stream.Flush(flushToDisk: true);
            }
            if (File.Exists(path))
            {
                File.Move(path, PreviousPath(path), overwrite: true);
            }
            File.Move(temp, path);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Deletes temporary files a killed writer of <paramref name="path"/> left behind (<c>path.PID.tmp</c>). Call it
    /// before a run starts or resumes; nothing else writes those names.
    /// </summary>
    public static void RemoveStaleTemporaries(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is null || !Directory.Exists(dir))
        {
            return;
        }
        foreach (var stale in Directory.GetFiles(dir, Path.GetFileName(path) + ".*.tmp"))
        {
            File.Delete(stale);
        }
    }

    /// <summary>The trainer state of a checkpoint (checksum verified), without loading weights.</summary>
    public static TrainerState ReadState(string path)
    {
        using var reader = Open(path);
        return ReadHeader(reader, path);
    }

    /// <summary>
    /// Restores a checkpoint into <paramref name="model"/> and <paramref name="optimizer"/> (when given) and torch's
    /// random-number state. The checksum is verified first: a truncated or corrupt file is a
    /// <see cref="CorruptCheckpointException"/> and nothing is loaded. When <paramref name="expectedConfig"/> is
    /// given, a checkpoint made with another config is an error naming the differing keys.
    /// </summary>
    public static TrainerState Load(string path, nn.Module model, OptimizerHelper? optimizer, string? expectedConfig)
    {
        using var reader = Open(path);
        var state = ReadHeader(reader, path);
        if (expectedConfig is not null && state.Config != expectedConfig)
        {
            throw new InvalidDataException(
                $"{path}: the checkpoint was made with another configuration ({Differences(state.Config, expectedConfig)})"
            );
        }
        byte[] rng;
        try
        {
            int n = reader.ReadInt32();
            if (n < 0 || n > reader.BaseStream.Length - reader.BaseStream.Position)
            {
                throw new CorruptCheckpointException($"{path}: the random-number state's length {n} does not fit the file");
            }
            rng = reader.ReadBytes(n);
        }
        catch (EndOfStreamException e)
        {
            throw new CorruptCheckpointException($"{path}: truncated checkpoint (in the random-number state)", e);
        }
        try
        {
            model.load(reader);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{path}: the checkpoint's weights do not fit the model: {e.Message}", e);
        }
        if (optimizer is not null)
        {
            try
            {
                optimizer.load_state_dict(reader);
            }
            catch (Exception e) when (e is not InvalidDataException)
            {
                throw new InvalidDataException($"{path}: the checkpoint's optimiser state does not fit the optimiser: {e.Message}", e);
            }
            set_rng_state(tensor(rng));
        }
        return state;
    }

    /// <summary>
    /// Restores the newest intact checkpoint of <paramref name="path"/>: the file itself, or, when it is missing (a
    /// save interrupted between its renames), truncated or corrupt, the previous one (<see cref="PreviousPath"/>),
    /// telling <paramref name="report"/> why. Returns null when neither exists; throws when neither is intact, or
    /// when an intact one does not fit (another config, other weights: those are not fallen back from).
    /// </summary>
    public static TrainerState? LoadLatest(
        string path,
        nn.Module model,
        OptimizerHelper? optimizer,
        string? expectedConfig,
        Action<string> report
    )
    {
        string previous = PreviousPath(path);
        if (!File.Exists(path))
        {
            if (!File.Exists(previous))
            {
                return null;
            }
            report($"{path} is missing (a save was interrupted); falling back to the previous checkpoint {previous}");
            return Load(previous, model, optimizer, expectedConfig);
        }
        try
        {
            Verify(path);
        }
        catch (CorruptCheckpointException e)
        {
            if (!File.Exists(previous))
            {
                throw new CorruptCheckpointException($"{e.Message}; there is no previous checkpoint ({previous}) to fall back to", e);
            }
            try
            {
                Verify(previous);
            }
            catch (CorruptCheckpointException p)
            {
                throw new CorruptCheckpointException($"{e.Message}; the previous checkpoint is no better: {p.Message}", p);
            }
            report($"checkpoint {e.Message}; falling back to the previous checkpoint {previous}");
            return Load(previous, model, optimizer, expectedConfig);
        }
        return Load(path, model, optimizer, expectedConfig);
    }

    /// <summary>Checks a checkpoint's header, length and checksum; throws <see cref="CorruptCheckpointException"/>.</summary>
    public static void Verify(string path)
    {
        using var reader = Open(path);
    }

    /// <summary>Opens a checkpoint positioned at its payload, after checking its magic, length and checksum.</summary>
    static BinaryReader Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"checkpoint not found: {path}", path);
        }
        var stream = File.OpenRead(path);
        try
        {
            var header = new byte[HeaderBytes];
            int read = stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false);
            string magic = Encoding.ASCII.GetString(header, 0, Math.Min(read, Magic.Length));
            if (read < Magic.Length || magic != Magic)
            {
                string hint = magic.StartsWith("RCKPT", StringComparison.Ordinal)
                    ? " (an older checkpoint format without a checksum; delete it to start the run afresh)"
                    : "";
                throw new CorruptCheckpointException($"{path}: not a checkpoint of this project (starts with '{Printable(magic)}'){hint}");
            }
            if (read < HeaderBytes)
            {
                throw new CorruptCheckpointException($"{path}: truncated checkpoint ({read} bytes, the header alone has {HeaderBytes})");
            }
            long declared = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
            long present = stream.Length - HeaderBytes;
            if (declared != present)
            {
                string what = declared > present ? "truncated" : "trailing bytes";
                throw new CorruptCheckpointException(
                    $"{path}: {what}: the checkpoint declares {declared} bytes after its header, the file has {present}"
                );
            }
            var actual = SHA256.HashData(stream);
            if (!actual.AsSpan().SequenceEqual(header.AsSpan(16, 32)))
            {
                throw new CorruptCheckpointException(
                    $"{path}: corrupt: the SHA-256 of its {present} bytes is {Convert.ToHexString(actual)[..16]}…, the header says {Convert.ToHexString(header, 16, 32)[..16]}…"
                );
            }
            stream.Position = HeaderBytes;
            return new BinaryReader(stream, Encoding.UTF8);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    static string Printable(string s) => new(s.Select(c => c is >= ' ' and < (char)0x7F ? c : '?').ToArray());

    static TrainerState ReadHeader(BinaryReader reader, string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(reader.ReadString())
                ?? throw new InvalidDataException($"{path}: empty trainer state");
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or FormatException or IOException)
        {
            throw new CorruptCheckpointException($"{path}: unreadable trainer state ({e.Message})", e);
        }
    }

    /// <summary>Writes through to a stream and hashes what passes.</summary>
    sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Top-level JSON keys whose values differ, for error messages.</summary>
    public static string Differences(string a, string b)
    {
        try
        {
            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            var left = x.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
            var right = y.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText());
            var keys = left
                .Keys.Union(right.Keys)
                .Where(k => !left.TryGetValue(k, out var l) || !right.TryGetValue(k, out var r) || l != r);
            return "differs in: " + string.Join(", ", keys.Order(StringComparer.Ordinal));
        }
        catch (JsonException)
        {
            return "configs are not comparable JSON objects";
        }
    }
}
