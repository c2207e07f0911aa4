using System.Runtime;
using System.Threading;

namespace Research.Model.Runtime;

/// <summary>
/// Runs a block of TorchSharp calls right after a collection whose finalizers have all run, so that no finalizer
/// runs, and in practice no collection happens, while the block's native calls are in flight.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107's <c>Scalar</c> owns a native <c>c10::Scalar</c>, has a finalizer, and is not tracked by
/// dispose scopes. An implicit conversion (<c>x * 0.5</c>, <c>masked_fill(mask, 0.0)</c>, and inside TorchSharp itself
/// every <c>a + b</c>, which passes alpha = 1, and Adam's updates) makes a temporary whose last use is reading its
/// handle just before the native call. In optimised code the object is then unreachable; if a collection runs while
/// the native call runs, the finalizer thread frees the scalar under libtorch's feet and the op fails with
/// "Expected false to be true" (or crashes). Two demo pre-training runs died this way; a loop of
/// <c>masked_fill(mask, 0.0)</c> with a collecting thread beside it reproduces it in seconds.
/// A collection the block's own thread triggers happens at a managed allocation, never between reading a handle and
/// the call, so it is harmless by itself; the danger is a collection started meanwhile by another thread — above
/// all the finalizer thread, which runs (and allocates) after every collection. <see cref="Run{T}"/> therefore
/// collects and waits for every finalizer first: the finalizer thread is idle when the block starts, and a block
/// that allocates less than gen0's budget (a demo training step: ~0.6 MB) triggers no collection, so nothing wakes
/// it. Blocks during which a collection happened anyway are counted in <see cref="Overruns"/>.
/// (A no-GC region would make the guarantee absolute, but held across a training step it grew resident memory by
/// about 1 MB per step on real batches; this keeps it flat.) The guarantee needs only an empty finalizer queue and a
/// fresh gen0 budget, which in principle a gen0 collection gives as well as a full one (RESEARCH_COLLECTION_GUARD=gen0:
/// gen0 before each block, every generation once every <see cref="FullEvery"/> blocks); but with it two demo main jobs
/// failed in a pre-training step with the scalar error, so the default stays a full collection (see
/// <see cref="Generation"/>). What each costs per training step is measured in BENCHMARKS.md (the profile).
/// RESEARCH_COLLECTION_GUARD=0 turns the guard off, for diagnosis.
/// </remarks>
public static class CollectionGuard
{
    /// <summary>False when the environment sets RESEARCH_COLLECTION_GUARD=0 (for diagnosis only: blocks then run unguarded).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("RESEARCH_COLLECTION_GUARD") != "0";

    static long overruns;
    static long collectTicks;

    [ThreadStatic]
    static int sinceFull;

    /// <summary>With <see cref="Generation"/> 0, every this many blocks (per thread) collect all generations.</summary>
    public const int FullEvery = 100;

    [ThreadStatic]
    static int depth;
    static long blocks;

    /// <summary>Blocks during which a collection happened anyway (more allocation than gen0's budget, or another thread).</summary>
    public static long Overruns => Interlocked.Read(ref overruns);

    /// <summary>Blocks run so far.</summary>
    public static long Blocks => Interlocked.Read(ref blocks);

    /// <summary>Time spent so far collecting and draining finalizers before blocks (the guard's whole cost).</summary>
    public static TimeSpan CollectTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref collectTicks));

    /// <summary>
    /// The generation collected before each block: 2 (all, the default) or 0 (RESEARCH_COLLECTION_GUARD=gen0, with all
    /// generations every <see cref="FullEvery"/> blocks). Gen0 costs several times less per step, but two demo main jobs
    /// run with it as the default failed in a pre-training step with TorchSharp's scalar error ("Unknown scalar type" in
    /// div_, "Expected false to be true" in Adam's addcmul_), so it stays an option until that is understood.
    /// </summary>
    public static int Generation { get; set; } = Environment.GetEnvironmentVariable("RESEARCH_COLLECTION_GUARD") == "gen0" ? 0 : 2;

    /// <summary>Collects, then runs every pending finalizer, on this thread's time.</summary>
    static void CollectNow()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        // Gen0 only: a block's temporaries die young, so a gen0 collection finds them (and queues their finalizers)
        // at a fraction of a full collection's cost; what survives into the older generations is swept by a full
        // collection every FullEvery blocks.
        int generation = Generation == 0 && ++sinceFull >= FullEvery ? 2 : Generation;
        if (generation == 2)
        {
            sinceFull = 0;
        }
        GC.Collect(generation, GCCollectionMode.Forced, blocking: true);
        GC.WaitForPendingFinalizers();
        Interlocked.Add(ref collectTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
    }

    /// <summary>Runs <paramref name="block"/> after a collection with every pending finalizer run (see the remarks).</summary>
    public static T Run<T>(Func<T> block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (!Enabled || ++depth > 1)
        {
            try
            {
                return block();
            }
            finally
            {
                if (Enabled)
                {
                    depth--;
                }
            }
        }
        try
        {
            CollectNow();
            int before = GC.CollectionCount(0);
            Interlocked.Increment(ref blocks);
            var result = block();
            if (GC.CollectionCount(0) != before)
            {
                Interlocked.Increment(ref overruns);
            }
            return result;
        }
        finally
        {
            depth--;
        }
    }

    /// <summary>Runs <paramref name="block"/> with no collection inside it.</summary>
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
