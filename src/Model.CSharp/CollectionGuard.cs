using System;
using System.Runtime;
using System.Threading;

namespace Research.Model;

/// <summary>
/// Holds the garbage collector off while a block of TorchSharp calls runs, and collects (finalizers included) only
/// between blocks.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107's <c>Scalar</c> owns a native <c>c10::Scalar</c>, has a finalizer, and is not tracked by
/// dispose scopes. An implicit conversion (<c>x * 0.5</c>, <c>masked_fill(mask, 0.0)</c>, and inside TorchSharp itself
/// every <c>a + b</c>, which passes alpha = 1, and Adam's updates) makes a temporary whose last use is reading its
/// handle just before the native call. In optimised code the object is then unreachable; if any thread triggers a
/// collection while the native call runs, the finalizer thread frees the scalar under libtorch's feet and the op
/// fails with "Expected false to be true" (or crashes). Two demo pre-training runs died this way; a loop of
/// <c>masked_fill(mask, 0.0)</c> with a collecting thread beside it reproduces it in seconds
/// (<c>CollectionGuardTests</c>). Our own code cannot avoid the temporaries TorchSharp makes internally, so the
/// fix is to let no collection happen inside a block: <see cref="Run{T}"/> first collects and waits for
/// finalizers (so the finalizer thread has nothing left to do), then runs the block in a no-GC region large
/// enough for its managed allocations (tensor handles, scalars; well under a megabyte per training step).
/// Collections then happen only between blocks, on this thread, when no native call is in flight.
/// If something else allocates more than the budget inside a block, the runtime collects anyway and leaves the
/// region; that is counted in <see cref="Overruns"/> (the guard then degrades to the unguarded behaviour for that
/// block, never to an error).
/// </remarks>
public static class CollectionGuard
{
    /// <summary>Managed bytes a block may allocate (all threads together) before the runtime collects anyway.</summary>
    public const long Budget = 64L << 20;

    static long overruns;
    static long blocks;

    /// <summary>Blocks during which a collection happened anyway (the budget was exceeded or a GC was forced).</summary>
    public static long Overruns => Interlocked.Read(ref overruns);

    /// <summary>Blocks run so far.</summary>
    public static long Blocks => Interlocked.Read(ref blocks);

    /// <summary>Collects, then runs every pending finalizer, on this thread's time.</summary>
    static void CollectNow()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>Runs <paramref name="block"/> with no collection inside it (see the remarks); returns its result.</summary>
    public static T Run<T>(Func<T> block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
        {
            // Nested: the outer block already holds collections off.
            return block();
        }
        CollectNow();
        bool started;
        try
        {
            started = GC.TryStartNoGCRegion(Budget, disallowFullBlockingGC: false);
        }
        catch (ArgumentOutOfRangeException)
        {
            started = GC.TryStartNoGCRegion(Budget / 4, disallowFullBlockingGC: false);
        }
        // Starting the region may itself collect: let its finalizers finish before native calls begin.
        GC.WaitForPendingFinalizers();
        Interlocked.Increment(ref blocks);
        try
        {
            return block();
        }
        finally
        {
            if (started)
            {
                if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
                {
                    GC.EndNoGCRegion();
                }
                else
                {
                    Interlocked.Increment(ref overruns);
                }
            }
            else
            {
                Interlocked.Increment(ref overruns);
            }
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
