using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Research.Model.Data;

namespace Research.Model.Training;

/// <summary>
/// One run's folder (e.g. runs/&lt;name&gt;/), which becomes immutable when the run finishes:
/// <list type="bullet">
/// <item><c>config.json</c>: the resolved config, as System.Text.Json writes it (indented);</item>
/// <item><c>run.json</c>: the seed, and how the run started (<see cref="RunInfo"/>: git commit and dirty flag, package
/// versions, .NET, OS, cores, command line, time) plus one such entry per resumption;</item>
/// <item><c>log.jsonl</c>: the <see cref="MetricsLog"/>, one line per step and per evaluation;</item>
/// <item><c>metrics.json</c>: the final metrics, written by <see cref="Finish"/>, then <c>DONE</c> (its time).</item>
/// </list>
/// Opening an unfinished run with the same config, seed and inputs (<see cref="RunInputs"/>) resumes it; with another,
/// it is an error naming the differing keys (<see cref="RunConfigMismatchException"/>); <see cref="Fresh"/> names a new
/// folder beside it instead. Once DONE exists every write through this API throws; <see cref="IsDone"/> and
/// <see cref="ReadMetrics(string)"/> let callers reuse a finished run. Files are replaced atomically (temporary name,
/// then rename), and the folder is created atomically with its config and run.json. While open for writing, the
/// folder is locked (<c>.lock</c>, an OS file lock) so two processes cannot train into it at once; the holder's pid,
/// host and start time are in <c>.lock-holder</c>, which a refused opener names. The OS releases the lock of a
/// process that dies, so a killed run's lock is taken over by the next opener (<see cref="StaleHolder"/> says whose).
/// </summary>
public sealed class RunFolder : IDisposable
{
    public const string ConfigFile = "config.json";
    public const string RunFile = "run.json";
    public const string LogFile = "log.jsonl";
    public const string MetricsFile = "metrics.json";
    public const string DoneFile = "DONE";
    const string LockFile = ".lock";
    const string HolderFile = ".lock-holder";

    static readonly HashSet<string> Reserved = [ConfigFile, RunFile, LogFile, MetricsFile, DoneFile, LockFile, HolderFile];

    readonly object gate = new();
    FileStream? lockStream;
    bool disposed;
    MetricsLog? log;

    RunFolder(string path, int seed, bool resumed, FileStream? lockStream, string? staleHolder = null)
    {
        Path = path;
        Seed = seed;
        Resumed = resumed;
        this.lockStream = lockStream;
        StaleHolder = staleHolder;
    }

    /// <summary>
    /// When opening took over the lock of a holder that died without releasing it (a killed process): who that was
    /// (pid, host, start); otherwise null.
    /// </summary>
    public string? StaleHolder { get; }

    /// <summary>The folder (full path).</summary>
    public string Path { get; }

    /// <summary>The run's seed.</summary>
    public int Seed { get; }

    /// <summary>Whether the folder already held this run (unfinished or finished) when it was opened.</summary>
    public bool Resumed { get; }

    /// <summary>Whether the run has finished (DONE exists): the folder is then read-only for this API.</summary>
    public bool IsFinished => IsDone(Path);

    /// <summary>The run's metrics log (log.jsonl), opened for appending on first use; throws once the run is finished.</summary>
    public MetricsLog Log
    {
        get
        {
            lock (gate)
            {
                ThrowIfFinished("open the log");
                return log ??= MetricsLog.Open(PathOf(LogFile));
            }
        }
    }

    /// <summary>A path inside the folder.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// Starts a new run: creates the folder (it must not exist, or be empty) holding config.json and run.json, all
    /// at once. A folder that already holds a run is an error; use <see cref="OpenOrResume(string, object, int, RunInfo, RunInputs)"/> to continue one.
    /// </summary>
    /// <param name="path">the run folder</param>
    /// <param name="resolvedConfig">the config after defaults and overrides, any value System.Text.Json serializes (a JsonNode too)</param>
    /// <param name="seed">the run's random seed</param>
    /// <param name="info">where and with what the run starts (usually <see cref="RunInfo.Capture"/>)</param>
    public static RunFolder Create(string path, object resolvedConfig, int seed, RunInfo info) =>
        Create(path, resolvedConfig, seed, info, null);

    /// <summary>
    /// Starts a new run as <see cref="Create(string, object, int, RunInfo)"/> does, recording what it is made from
    /// (<paramref name="inputs"/>) in run.json.
    /// </summary>
    public static RunFolder Create(string path, object resolvedConfig, int seed, RunInfo info, RunInputs? inputs)
    {
        string full = FullPath(path);
        if (HoldsRun(full))
        {
            throw new IOException(
                $"{full}: already holds a run{(IsDone(full) ? " (finished)" : "")}; open it with RunFolder.OpenOrResume, or choose another folder"
            );
        }
        if (File.Exists(full) || (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any()))
        {
            throw new IOException($"{full}: exists and is not an empty folder, nor a run folder (no {ConfigFile})");
        }
        string config = ConfigText(resolvedConfig);
        // Built beside the target, then renamed into place: the run appears whole or not at all. Move (unlike a
        // swap) fails when another process created the folder meanwhile, instead of replacing its run.
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        string temp = $"{full}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try
        {
            WriteText(System.IO.Path.Combine(temp, ConfigFile), config);
            WriteText(System.IO.Path.Combine(temp, RunFile), RunText(new RunRecord(seed, info, [], inputs)));
            if (Directory.Exists(full))
            {
                Directory.Delete(full); // empty, checked above; fails if something appeared since
            }
            Directory.Move(temp, full);
        }
        catch (IOException e) when (HoldsRun(full))
        {
            // Another process created the run between the check above and the move: it trains it.
            Directory.Delete(temp, true);
            throw new RunLockedException(full, $"{full}: created by another process meanwhile", e);
        }
        catch
        {
            Directory.Delete(temp, true);
            throw;
        }
        var created = Lock(full, out string? stale);
        return new RunFolder(full, seed, resumed: false, created, stale);
    }

    /// <summary>
    /// Creates the run when the folder holds none; otherwise checks that it was started with the same config and
    /// seed (else <see cref="RunConfigMismatchException"/>, naming the differing keys) and resumes it: run.json gains
    /// a resumption entry, and the log continues (call <c>Log.TruncateAfter(checkpoint step)</c> before logging).
    /// A finished run opens read-only (<see cref="IsFinished"/>), for its metrics.
    /// </summary>
    public static RunFolder OpenOrResume(string path, object resolvedConfig, int seed, RunInfo info) =>
        OpenOrResume(path, resolvedConfig, seed, info, null);

    /// <summary>
    /// As <see cref="OpenOrResume(string, object, int, RunInfo)"/>, and the run's recorded inputs (code version,
    /// dataset, input fingerprints; see <see cref="RunInputs"/>) must equal <paramref name="inputs"/> too, for a
    /// finished run as for an unfinished one: any difference is a <see cref="RunConfigMismatchException"/> naming
    /// the differing keys (<c>inputs.fingerprints.stores/train</c>, …). A new run records them in run.json.
    /// </summary>
    public static RunFolder OpenOrResume(string path, object resolvedConfig, int seed, RunInfo info, RunInputs? inputs)
    {
        string full = FullPath(path);
        if (!HoldsRun(full))
        {
            return Create(full, resolvedConfig, seed, info, inputs);
        }
        var record = ReadRun(full);
        CheckSame(full, ReadConfigNode(full), JsonNode.Parse(ConfigText(resolvedConfig)), record.Seed, seed, record.Inputs, inputs);
        if (IsDone(full))
        {
            return new RunFolder(full, seed, resumed: true, null);
        }
        var held = Lock(full, out string? staleHolder);
        try
        {
            if (IsDone(full))
            {
                // Finished by another process between the two checks.
                held.Dispose();
                return new RunFolder(full, seed, resumed: true, null);
            }
            var current = ReadRun(full);
            WriteText(System.IO.Path.Combine(full, RunFile), RunText(current with { Resumes = [.. current.Resumes, info] }));
            return new RunFolder(full, seed, resumed: true, held, staleHolder);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Writes (or replaces) a file in the folder atomically, e.g. a checkpoint; the run files' names are refused.</summary>
    public void WriteFile(string name, Action<Stream> write)
    {
        if (Reserved.Contains(name) || name != System.IO.Path.GetFileName(name))
        {
            throw new ArgumentException(
                $"{Path}: '{name}' is not a free file name here (reserved: {string.Join(", ", Reserved)})",
                nameof(name)
            );
        }
        lock (gate)
        {
            ThrowIfFinished($"write {name}");
            AtomicFile.Write(PathOf(name), write);
        }
    }

    /// <summary>Writes a value as indented JSON to a file in the folder, atomically (see <see cref="WriteFile"/>).</summary>
    public void WriteJson(string name, object value)
    {
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), RunJson.AsDeclared);
        WriteFile(name, s => s.Write(bytes));
    }

    /// <summary>
    /// Finishes the run: closes the log, writes metrics.json atomically (any value System.Text.Json serializes), then
    /// DONE. From then on every write through this API throws, here and in any later process.
    /// </summary>
    public void Finish(object metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        lock (gate)
        {
            ThrowIfFinished("finish it again");
            string text = JsonSerializer.Serialize(metrics, metrics.GetType(), RunJson.AsDeclared) + "\n";
            log?.Close($"the run in {Path} has finished (DONE); its folder is read-only");
            WriteText(PathOf(MetricsFile), text);
            WriteText(PathOf(DoneFile), DateTimeOffset.UtcNow.ToString("O") + "\n");
            ReleaseLock();
        }
    }

    /// <summary>Closes the log and releases the folder's lock (the run stays resumable unless finished).</summary>
    public void Dispose()
    {
        lock (gate)
        {
            log?.Close("the run folder has been disposed");
            if (lockStream is not null)
            {
                File.Delete(PathOf(HolderFile));
            }
            lockStream?.Dispose();
            lockStream = null;
            disposed = true;
        }
    }

    /// <summary>Whether <paramref name="path"/> holds a finished run (its DONE marker exists).</summary>
    public static bool IsDone(string path) => File.Exists(System.IO.Path.Combine(path, DoneFile));

    /// <summary>A finished run's metrics.json; an error when the run has not finished.</summary>
    public static JsonElement ReadMetrics(string path)
    {
        using var document = JsonDocument.Parse(ReadFinished(path, MetricsFile));
        return document.RootElement.Clone();
    }

    /// <summary>A finished run's metrics.json as a <typeparamref name="T"/>; an error when the run has not finished.</summary>
    public static T ReadMetrics<T>(string path) =>
        JsonSerializer.Deserialize<T>(ReadFinished(path, MetricsFile), RunJson.AsDeclared)
        ?? throw new InvalidDataException($"{System.IO.Path.Combine(path, MetricsFile)}: holds null");

    /// <summary>A run's config.json.</summary>
    public static JsonElement ReadConfig(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(path, ConfigFile)));
        return document.RootElement.Clone();
    }

    /// <summary>A run's run.json: seed, start and resumptions.</summary>
    public static RunRecord ReadRun(string path)
    {
        string file = System.IO.Path.Combine(path, RunFile);
        try
        {
            return JsonSerializer.Deserialize<RunRecord>(File.ReadAllText(file), RunJson.SnakeCase)
                ?? throw new InvalidDataException($"{file}: holds null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not a run record ({e.Message})", e);
        }
    }

    void ThrowIfFinished(string what)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (IsDone(Path))
        {
            throw new InvalidOperationException($"{Path}: cannot {what}: the run has finished (DONE) and its folder is read-only");
        }
    }

    void ReleaseLock()
    {
        if (lockStream is not null)
        {
            File.Delete(PathOf(HolderFile));
            lockStream.Dispose();
            lockStream = null;
            File.Delete(PathOf(LockFile));
        }
    }

    static string FullPath(string path) => System.IO.Path.GetFullPath(path).TrimEnd(System.IO.Path.DirectorySeparatorChar);

    static bool HoldsRun(string full) => File.Exists(System.IO.Path.Combine(full, ConfigFile));

    /// <summary>
    /// Takes the folder's exclusive lock (FileShare.None is an OS lock on Linux, macOS and Windows) and records the
    /// holder (pid, host, start) beside it. A holder record left by a process that died holding the lock is returned
    /// in <paramref name="stale"/> and replaced; a refusal names the live holder.
    /// </summary>
    static FileStream Lock(string full, out string? stale)
    {
        string file = System.IO.Path.Combine(full, LockFile);
        string holder = System.IO.Path.Combine(full, HolderFile);
        FileStream stream;
        try
        {
            stream = new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new RunLockedException(
                full,
                $"{full}: the run is open in another process or RunFolder, held by {DescribeHolder(holder)} ({LockFile} is locked); wait for it to finish or stop that process",
                e
            );
        }
        try
        {
            // Whoever wrote a holder record and no longer holds the lock died holding it (Dispose and Finish delete it).
            stale = File.Exists(holder) ? DescribeHolder(holder) : null;
            if (stale is not null)
            {
                Console.Error.WriteLine($"{full}: took over the lock of {stale}, which no longer holds it (killed?)");
            }
            string record =
                JsonSerializer.Serialize(
                    new Dictionary<string, object>
                    {
                        ["pid"] = Environment.ProcessId,
                        ["host"] = Environment.MachineName,
                        ["since"] = DateTimeOffset.UtcNow.ToString("O"),
                    }
                ) + "\n";
            WriteText(holder, record);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>"pid N on host H since T" from a holder record, or what is known when it cannot be read.</summary>
    static string DescribeHolder(string holder)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(holder));
            var root = document.RootElement;
            return $"pid {root.GetProperty("pid").GetInt32()} on host {root.GetProperty("host").GetString()} since {root.GetProperty("since").GetString()}";
        }
        catch (Exception e)
            when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException or UnauthorizedAccessException)
        {
            return File.Exists(holder)
                ? $"an unknown holder ({HolderFile} unreadable: {e.Message})"
                : $"an unknown holder (no {HolderFile})";
        }
    }

    static string ReadFinished(string path, string name)
    {
        if (!IsDone(path))
        {
            throw new InvalidOperationException($"{System.IO.Path.GetFullPath(path)}: the run has not finished (no {DoneFile})");
        }
        return File.ReadAllText(System.IO.Path.Combine(path, name));
    }

    static JsonNode? ReadConfigNode(string full)
    {
        string file = System.IO.Path.Combine(full, ConfigFile);
        try
        {
            return JsonNode.Parse(File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON ({e.Message})", e);
        }
    }

    static void CheckSame(
        string full,
        JsonNode? oldConfig,
        JsonNode? newConfig,
        int oldSeed,
        int newSeed,
        RunInputs? oldInputs,
        RunInputs? newInputs
    )
    {
        var differences = JsonDiff.Compare(oldConfig, newConfig).Where(d => !ExecutionKeys.Contains(d.Key)).ToList();
        if (newInputs is not null)
        {
            differences.AddRange(JsonDiff.Compare(InputsNode(oldInputs), InputsNode(newInputs)));
        }
        if (oldSeed != newSeed)
        {
            differences.Insert(
                0,
                new JsonDiff.Difference(
                    "seed",
                    oldSeed.ToString(CultureInfo.InvariantCulture),
                    newSeed.ToString(CultureInfo.InvariantCulture)
                )
            );
        }
        if (differences.Count > 0)
        {
            const int shown = 20;
            string details = string.Join(", ", differences.Take(shown));
            if (differences.Count > shown)
            {
                details += $" and {differences.Count - shown} more";
            }
            throw new RunConfigMismatchException(full, [.. differences.Select(d => d.Key)], details);
        }
    }

    /// <summary>
    /// Top-level config keys that record how a run executes, not what it trains: they are written to run.json but
    /// may differ when a run is reused or resumed (the torch threads of a run resumed on a bigger machine, or beside
    /// another process, as in <c>reproduce.fsx --processes 2</c> and sweeps run side by side).
    /// </summary>
    public static readonly IReadOnlySet<string> ExecutionKeys = new HashSet<string>(StringComparer.Ordinal) { "Threads" };

    /// <summary>Inputs as compared: under an "inputs" key, so differences read <c>inputs.dataset</c> etc.</summary>
    static JsonNode InputsNode(RunInputs? inputs) =>
        new JsonObject { ["inputs"] = inputs is null ? null : JsonSerializer.SerializeToNode(inputs, RunJson.SnakeCase) };

    /// <summary>
    /// The folder a plain request uses for <paramref name="path"/>: the last of <c>path</c>, <c>path-2</c>,
    /// <c>path-3</c>, … that holds a run (the one <c>--fresh</c> made last), or <paramref name="path"/> when none does.
    /// </summary>
    public static string Latest(string path)
    {
        string full = FullPath(path);
        string latest = full;
        for (int k = 2; HoldsRun(Sibling(full, k)); k++)
        {
            latest = Sibling(full, k);
        }
        return latest;
    }

    /// <summary>
    /// The folder a <c>--fresh</c> request uses for <paramref name="path"/>: <paramref name="path"/> when it holds
    /// no run, else the first of <c>path-2</c>, <c>path-3</c>, … that holds none (the one after <see cref="Latest"/>).
    /// Existing runs are never reused nor touched; a later plain request finds the new one by <see cref="Latest"/>.
    /// </summary>
    public static string Fresh(string path)
    {
        string full = FullPath(path);
        if (!HoldsRun(full))
        {
            return full;
        }
        int k = 2;
        while (HoldsRun(Sibling(full, k)))
        {
            k++;
        }
        return Sibling(full, k);
    }

    static string Sibling(string full, int k) => $"{full}-{k.ToString(CultureInfo.InvariantCulture)}";

    static string ConfigText(object resolvedConfig)
    {
        ArgumentNullException.ThrowIfNull(resolvedConfig);
        return JsonSerializer.Serialize(resolvedConfig, resolvedConfig.GetType(), RunJson.AsDeclared) + "\n";
    }

    static string RunText(RunRecord record) => JsonSerializer.Serialize(record, RunJson.SnakeCase) + "\n";

    static void WriteText(string path, string text)
    {
        byte[] bytes = new UTF8Encoding(false).GetBytes(text);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}
