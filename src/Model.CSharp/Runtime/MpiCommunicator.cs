using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>
/// A job of several processes started by OpenMPI's <c>mpirun</c>: the few MPI calls data-parallel training needs,
/// bound at run time to <c>libmpi.so.40</c> (OpenMPI 4.x, Debian's <c>libopenmpi-dev</c>). OpenMPI's handles
/// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of exported globals (<c>ompi_mpi_comm_world</c>, ...),
/// which is how they are found here. The served MPI.NET 1.4.0 package was tried first: it is built for MS-MPI's integer
/// handles and crashed (SIGSEGV in MPI_Init's first use of a handle) against OpenMPI 4.1 on Linux.
/// Errors use MPI's default handler (MPI_ERRORS_ARE_FATAL): a failed call, or a rank that dies, ends the whole job.
/// </summary>
public sealed class MpiCommunicator : ICommunicator
{
    /// <summary>The library loaded (its soname; OpenMPI 4.x).</summary>
    public const string Library = "libmpi.so.40";

    const int ThreadSerialized = 2;
    static readonly IntPtr InPlace = 1;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int InitThread(IntPtr argc, IntPtr argv, int required, out int provided);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int NoArgs();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int IntOut(out int value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int CommIntOut(IntPtr comm, out int value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int AllreduceFn(IntPtr send, IntPtr receive, int count, IntPtr type, IntPtr op, IntPtr comm);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int BcastFn(IntPtr buffer, int count, IntPtr type, int root, IntPtr comm);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int CommFn(IntPtr comm);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int AbortFn(IntPtr comm, int code);

    [DllImport("libc", EntryPoint = "dlopen")]
    static extern IntPtr DlOpen(string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    static extern IntPtr DlError();

    static readonly object Gate = new();
    static MpiCommunicator? instance;

    readonly IntPtr world,
        floatType,
        doubleType,
        int64Type,
        byteType,
        sum;
    readonly AllreduceFn allreduce;
    readonly BcastFn bcast;
    readonly CommFn barrier;
    readonly AbortFn abort;
    readonly NoArgs finalize;
    bool finalized;

    MpiCommunicator(IntPtr library)
    {
        IntPtr Symbol(string name) =>
            NativeLibrary.TryGetExport(library, name, out var address)
                ? address
                : throw new InvalidOperationException($"{Library} has no symbol {name} (OpenMPI 4.x expected)");
        T Function<T>(string name)
            where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(Symbol(name));
        world = Symbol("ompi_mpi_comm_world");
        floatType = Symbol("ompi_mpi_float");
        doubleType = Symbol("ompi_mpi_double");
        int64Type = Symbol("ompi_mpi_int64_t");
        byteType = Symbol("ompi_mpi_byte");
        sum = Symbol("ompi_mpi_op_sum");
        allreduce = Function<AllreduceFn>("MPI_Allreduce");
        bcast = Function<BcastFn>("MPI_Bcast");
        barrier = Function<CommFn>("MPI_Barrier");
        abort = Function<AbortFn>("MPI_Abort");
        finalize = Function<NoArgs>("MPI_Finalize");
        Function<IntOut>("MPI_Initialized")(out int initialized);
        if (initialized == 0)
        {
            Check(Function<InitThread>("MPI_Init_thread")(0, 0, ThreadSerialized, out int provided), "MPI_Init_thread");
            if (provided < ThreadSerialized)
            {
                throw new InvalidOperationException(
                    $"MPI provides thread level {provided}; training needs MPI_THREAD_SERIALIZED ({ThreadSerialized})"
                );
            }
        }
        Check(Function<CommIntOut>("MPI_Comm_rank")(world, out int rank), "MPI_Comm_rank");
        Check(Function<CommIntOut>("MPI_Comm_size")(world, out int size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>
    /// Loads OpenMPI and initialises it (once per process; later calls return the same communicator). A clear error
    /// when the library is missing: install <c>openmpi-bin libopenmpi-dev</c>.
    /// </summary>
    public static MpiCommunicator Initialize()
    {
        lock (Gate)
        {
            if (instance is not null)
            {
                return instance;
            }
            // RTLD_NOW | RTLD_GLOBAL: OpenMPI's plug-ins (dlopen'ed by MPI_Init) resolve symbols of libmpi globally.
            IntPtr library = DlOpen(Library, 0x102);
            if (library == 0)
            {
                string why = Marshal.PtrToStringAnsi(DlError()) ?? "unknown";
                throw new DllNotFoundException(
                    $"OpenMPI's {Library} did not load ({why}); install it with: apt-get install -y openmpi-bin libopenmpi-dev"
                );
            }
            instance = new MpiCommunicator(library);
            return instance;
        }
    }

    public int Rank { get; }

    public int Size { get; }

    public string Engine => $"OpenMPI ({Library}), {Size} ranks";

    IntPtr TypeOf(Tensor t) =>
        t.dtype switch
        {
            ScalarType.Float32 => floatType,
            ScalarType.Float64 => doubleType,
            ScalarType.Int64 => int64Type,
            _ => throw new ArgumentException($"all-reduce supports float32, float64 and int64 tensors, not {t.dtype}"),
        };

    static void RequireContiguousCpu(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous())
        {
            throw new ArgumentException($"MPI collectives need a contiguous CPU tensor (got {t.device}, contiguous {t.is_contiguous()})");
        }
        if (t.NumberOfElements > int.MaxValue)
        {
            throw new ArgumentException($"a tensor of {t.NumberOfElements} elements is too large for one MPI call; split it");
        }
    }

    /// <summary>The address of a contiguous CPU tensor's first element.</summary>
    static IntPtr DataPointer(Tensor t) => TensorMemory.Address(t);

    public void AllReduceSum(Tensor buffer)
    {
        RequireContiguousCpu(buffer);
        Check(allreduce(InPlace, DataPointer(buffer), (int)buffer.NumberOfElements, TypeOf(buffer), sum, world), "MPI_Allreduce");
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        RequireContiguousCpu(buffer);
        long bytes = buffer.NumberOfElements * buffer.ElementSize;
        if (bytes > int.MaxValue)
        {
            throw new ArgumentException($"a tensor of {bytes} bytes is too large for one MPI broadcast; split it");
        }
        Check(bcast(DataPointer(buffer), (int)bytes, byteType, root, world), "MPI_Bcast");
    }

    public void Barrier() => Check(barrier(world), "MPI_Barrier");

    public void Abort(int code)
    {
        Console.Error.Flush();
        Console.Out.Flush();
        abort(world, code);
    }

    /// <summary>Finalises MPI (every rank must call it once at the end of a successful job).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (!finalized)
            {
                finalized = true;
                Check(finalize(), "MPI_Finalize");
            }
        }
    }

    void Check(int code, string call)
    {
        if (code != 0)
        {
            throw new InvalidOperationException($"{call} failed with MPI error {code} on rank {Rank}");
        }
    }
}
