using System.Runtime.CompilerServices;
using System.Threading;

namespace Research.Model.Runtime;

/// <summary>How <see cref="CollectionGuard"/> keeps finalizers away from a block's native calls.</summary>
public enum GuardMode
{
    /// <summary>The finalizer thread is held in a gate while any block runs (the default; costs ~nothing per block).</summary>
    Gate,

    /// <summary>A full collection with every finalizer run before each block (RESEARCH_COLLECTION_GUARD=full; the old guard, ~30 ms a step).</summary>
    FullCollection,

    /// <summary>No guard (RESEARCH_COLLECTION_GUARD=0, for diagnosis only: TorchSharp's temporaries can then be freed in flight).</summary>
    Off,
}

/// <summary>
/// Runs blocks of TorchSharp calls with no finalizer running meanwhile, so that TorchSharp's finalizable temporaries
/// cannot be freed while a native call uses them.
/// </summary>
/// <remarks>
/// <para>The hazard: TorchSharp 0.107's <c>Scalar</c> owns a native <c>c10::Scalar</c>, has a finalizer, and is not
/// tracked by dispose scopes. An implicit conversion (<c>x * 0.5</c>, <c>masked_fill(mask, 0.0)</c>, and inside
/// TorchSharp itself every <c>a + b</c>, which passes alpha = 1, and Adam's updates) makes a temporary whose last use
/// is reading its handle just before the native call. In optimised code the object is then unreachable; if a
/// collection runs while the native call runs (started by any other thread, the finalizer thread included) and the
/// finalizer thread then runs its finalizer, the scalar is freed under libtorch's feet and the op fails with
/// "Expected false to be true" or "Unknown scalar type" (or crashes). Two demo pre-training runs died this way; the
/// crash probe in the tests (a loop of <c>masked_fill(mask, 0.0)</c> beside a thread that collects) reproduces it in
/// well under a second.</para>
/// <para>The cause is the finalizer running, not the collection: a collection moves managed objects but frees no
/// native memory. So the default guard (<see cref="GuardMode.Gate"/>) holds the finalizer thread: before the first
/// block it drops a gate object whose finalizer waits on an event, collects gen0 so that the gate is queued, and waits
/// until the finalizer thread is inside it (every finalizer queued before it has then run, and none queued after it
/// can run). Blocks then run with collections allowed and no finalizer at all; the gate opens (the queued finalizers
/// run) only between blocks: after <see cref="OpenEvery"/> blocks, when no block runs on any thread, and when no block
/// has run for <see cref="IdleOpen"/> (a timer), so finalizers are late by at most that much. The cost is one gen0
/// collection per <see cref="OpenEvery"/> blocks, against a full collection and finalizer drain before every block in
/// the former guard (<see cref="GuardMode.FullCollection"/>, ~30 ms of a ~100-ms demo step; BENCHMARKS.md, the
/// profile).</para>
/// <para>Inside a block, <c>GC.WaitForPendingFinalizers</c> (and <c>GC.GetTotalMemory(true)</c>) would wait for the
/// gate forever: call <see cref="Open"/> first, outside any block.</para>
/// </remarks>
public static class CollectionGuard
{
    /// <summary>The guard in force: RESEARCH_COLLECTION_GUARD=full or 0 choose the others; settable for benchmarks.</summary>
    public static GuardMode Mode { get; set; } =
        Environment.GetEnvironmentVariable("RESEARCH_COLLECTION_GUARD") switch
        {
            "0" => GuardMode.Off,
            "full" => GuardMode.FullCollection,
            _ => GuardMode.Gate,
        };

    /// <summary>False when the guard is off (RESEARCH_COLLECTION_GUARD=0).</summary>
    public static bool Enabled => Mode != GuardMode.Off;

    /// <summary>With the gate, it opens after this many blocks (when none is running) so queued finalizers run.</summary>
    public const int OpenEvery = 64;

    /// <summary>With the gate, it opens when no block has run for this long.</summary>
    public static readonly TimeSpan IdleOpen = TimeSpan.FromSeconds(2);

    /// <summary>How long closing the gate may take before the guard gives up with an error.</summary>
    static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    static readonly Lock sync = new();
    static long overruns;
    static long collectTicks;
    static long blocks;
    static long closings;

    [ThreadStatic]
    static int depth;

    static int running;
    static int blocksSinceClose;
    static long lastBlockEnd;
    static ManualResetEventSlim? release;
    static Timer? idleTimer;

    /// <summary>Blocks during which a collection happened (harmless with the gate: no finalizer runs; counted for the record).</summary>
    public static long Overruns => Interlocked.Read(ref overruns);

    /// <summary>Blocks run so far.</summary>
    public static long Blocks => Interlocked.Read(ref blocks);

    /// <summary>Times the gate was closed (each costs a gen0 collection and a finalizer drain).</summary>
    public static long Closings => Interlocked.Read(ref closings);

    /// <summary>True while the finalizer thread is held in the gate.</summary>
    public static bool GateClosed
    {
        get
        {
            lock (sync)
            {
                return release is not null;
            }
        }
    }

    /// <summary>Time spent so far on the guard before blocks (closing the gate, or collecting and draining finalizers).</summary>
    public static TimeSpan CollectTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref collectTicks));

    /// <summary>The gate: its finalizer says it has started, then holds the finalizer thread until released.</summary>
    sealed class Gate(ManualResetEventSlim entered, ManualResetEventSlim release)
    {
        ~Gate()
        {
            entered.Set();
            release.Wait();
            entered.Dispose();
            release.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static WeakReference DropGate(ManualResetEventSlim entered, ManualResetEventSlim release) =>
        new(new Gate(entered, release), trackResurrection: false);

    /// <summary>Closes the gate (under <see cref="sync"/>): returns once the finalizer thread is held.</summary>
    static void CloseGate()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var entered = new ManualResetEventSlim(false);
        var gateRelease = new ManualResetEventSlim(false);
        // A short weak reference is cleared when its object is found unreachable, before its finalizer runs: it tells
        // whether the collection found the gate (gen0 does, unless another thread's collection promoted it first).
        var gate = DropGate(entered, gateRelease);
        for (int generation = 0; gate.IsAlive; generation = Math.Min(2, generation + 1))
        {
            GC.Collect(generation, GCCollectionMode.Forced, blocking: true);
        }
        // The finalizer thread runs what was queued before the gate (the finalizers of the blocks since it last
        // opened), then enters it.
        if (!entered.Wait(CloseTimeout))
        {
            gateRelease.Set();
            throw new InvalidOperationException(
                $"CollectionGuard: the finalizer thread did not reach the gate within {CloseTimeout.TotalSeconds:0} s "
                    + "(a finalizer is blocked?); RESEARCH_COLLECTION_GUARD=full uses the full-collection guard instead"
            );
        }
        release = gateRelease;
        blocksSinceClose = 0;
        Interlocked.Increment(ref closings);
        idleTimer ??= new Timer(_ => OpenIfIdle(), null, IdleOpen, IdleOpen);
        Interlocked.Add(ref collectTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Opens the gate (under <see cref="sync"/>, with no block running): the queued finalizers run.</summary>
    static void OpenGate()
    {
        release?.Set();
        release = null;
    }

    static void OpenIfIdle()
    {
        lock (sync)
        {
            if (release is not null && running == 0 && System.Diagnostics.Stopwatch.GetElapsedTime(lastBlockEnd) >= IdleOpen)
            {
                OpenGate();
            }
        }
    }

    /// <summary>
    /// Opens the gate if no block is running and waits for every pending finalizer (outside blocks only; inside one it
    /// throws, since the finalizers could not run).
    /// </summary>
    public static void Open()
    {
        if (depth > 0)
        {
            throw new InvalidOperationException("CollectionGuard.Open inside a guarded block: finalizers cannot run until it ends");
        }
        lock (sync)
        {
            if (running > 0)
            {
                return;
            }
            OpenGate();
        }
        GC.WaitForPendingFinalizers();
    }

    /// <summary>Collects, then runs every pending finalizer, on this thread's time (the full-collection guard).</summary>
    static void CollectNow()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (sync)
        {
            if (running == 0)
            {
                OpenGate();
            }
        }
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        GC.WaitForPendingFinalizers();
        Interlocked.Add(ref collectTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Runs <paramref name="block"/> with no finalizer running meanwhile (see the remarks).</summary>
    public static T Run<T>(Func<T> block)
    {
        ArgumentNullException.ThrowIfNull(block);
        var mode = Mode;
        if (mode == GuardMode.Off || depth > 0)
        {
            depth++;
            try
            {
                return block();
            }
            finally
            {
                depth--;
            }
        }
        if (mode == GuardMode.FullCollection)
        {
            CollectNow();
        }
        else
        {
            lock (sync)
            {
                if (release is null)
                {
                    CloseGate();
                }
                running++;
            }
        }
        depth++;
        int before = GC.CollectionCount(0);
        Interlocked.Increment(ref blocks);
        try
        {
            return block();
        }
        finally
        {
            depth--;
            if (GC.CollectionCount(0) != before)
            {
                Interlocked.Increment(ref overruns);
            }
            if (mode == GuardMode.Gate)
            {
                lock (sync)
                {
                    running--;
                    lastBlockEnd = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (++blocksSinceClose >= OpenEvery && running == 0)
                    {
                        OpenGate();
                    }
                }
            }
        }
    }

    /// <summary>Runs <paramref name="block"/> with no finalizer running meanwhile.</summary>
    public static void Run(Action block)
    {
        ArgumentNullException.ThrowIfNull(block);
        Run(() =>
        {
            block();
            return 0;
        });
    }
}
