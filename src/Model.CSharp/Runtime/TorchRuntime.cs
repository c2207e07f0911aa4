using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using TorchSharp;
using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>
/// Makes TorchSharp loadable and sets its process-wide state. Call <see cref="Initialize"/> once,
/// before the first tensor, from every entry point (programs, test runners, scripts).
/// </summary>
public static class TorchRuntime
{
    /// <summary>The only libstdc++ version libLibTorchSharp.so 0.107.0 needs beyond Debian 12's (3.4.30).</summary>
    public const string MissingVersion = "GLIBCXX_3.4.32";

    /// <summary>GCC 13's &lt;iostream&gt; references this symbol; nothing calls it (../shared/ENVIRONMENT.md).</summary>
    public const string OnlySymbolOfMissingVersion = "_ZSt21ios_base_library_initv";

    static readonly object Gate = new();
    static bool initialized;

    /// <summary>
    /// MKL's conditional numerical reproducibility: with <c>AUTO,STRICT</c> its kernels give bit-identical results
    /// whatever the memory alignment of the data. Without it, two identical training runs in one process differed in
    /// the last bits of the weights (alignment-dependent SIMD reductions), which would make "resume gives the same
    /// result" untrue. Set before libtorch loads unless the user set MKL_CBWR.
    /// </summary>
    public const string MklReproducibility = "AUTO,STRICT";

    /// <summary>
    /// glibc's allocator settings applied by <see cref="Initialize"/> (unless <c>RESEARCH_MALLOC_TUNING=0</c>): blocks up
    /// to 256 MiB come from the heap rather than a fresh mmap (up to 32 MiB at least on other threads than the main one,
    /// whose heaps glibc caps at 64 MiB), and the heap is trimmed only above 1 GiB free. By
    /// default glibc maps large blocks (a step's activations and their gradients: hundreds of KiB to tens of MiB)
    /// fresh and unmaps them when freed, so every step paid a page fault per 4 KiB of them: 3,000–7,000 faults and
    /// ~25 % of the late-fusion step at the demo's sizes on 1 thread, ~200–400 faults with these settings
    /// (BENCHMARKS.md, profile). Memory freed stays with the process for the next step; its peak is unchanged.
    /// </summary>
    public const int MmapThresholdBytes = 256 << 20;

    /// <summary>See <see cref="MmapThresholdBytes"/>.</summary>
    public const int TrimThresholdBytes = 1 << 30;

    /// <summary>See <see cref="MmapThresholdBytes"/>: extra heap requested when it grows.</summary>
    public const int TopPadBytes = 64 << 20;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallocOption(int parameter, int value);

    /// <summary>
    /// Applies the allocator settings of <see cref="MmapThresholdBytes"/> on glibc; says what it did. Idempotent.
    /// </summary>
    public static string TuneAllocator()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "allocator: not Linux, unchanged";
        }
        if (Environment.GetEnvironmentVariable("RESEARCH_MALLOC_TUNING") == "0")
        {
            return "allocator: glibc defaults (RESEARCH_MALLOC_TUNING=0)";
        }
        try
        {
            // mallopt parameters: M_TRIM_THRESHOLD −1, M_TOP_PAD −2, M_MMAP_THRESHOLD −3; 1 = applied.
            bool ok =
                MallocOption(-3, MmapThresholdBytes) == 1
                && MallocOption(-1, TrimThresholdBytes) == 1
                && MallocOption(-2, TopPadBytes) == 1;
            return ok
                ? $"allocator: mmap threshold {MmapThresholdBytes >> 20} MiB, trim threshold {TrimThresholdBytes >> 20} MiB"
                : "allocator: mallopt refused, glibc defaults";
        }
        catch (EntryPointNotFoundException)
        {
            return "allocator: no mallopt (not glibc), unchanged";
        }
    }

    /// <summary>
    /// The MKL function (statically linked into libtorch_cpu.so, exported) whose answer, "is this CPU GenuineIntel",
    /// MKL caches and consults before choosing its kernels: on other vendors it takes slower generic paths even where
    /// the CPU has every instruction the fast ones need.
    /// </summary>
    public const string MklVendorCheck = "mkl_serv_intel_cpu_true";

    /// <summary>
    /// On AMD CPUs with AVX2: makes MKL's vendor check answer yes by setting its cached answer before MKL's first
    /// call, so that MKL picks its kernels by the CPU's instruction sets as on Intel (<c>RESEARCH_MKL_VENDOR_CHECK=keep</c>
    /// leaves it alone). Measured on this machine's AMD EPYC (Zen 5, AVX-512), one thread: a 512² fp32 matmul 44 →
    /// 64 GFLOP/s, the demo transformer's training step 130–170 → 92–125 ms, the late-fusion step 245–315 → 164–203 ms
    /// (BENCHMARKS.md §7). Nothing in a file changes: the cache is a variable in the process's memory, found from the
    /// function's first instruction (a rip-relative load of it, checked before anything is written; any other code
    /// there and nothing is changed). Results stay reproducible run to run (MKL_CBWR, <see cref="MklReproducibility"/>);
    /// they differ from the generic kernels' in the last bits, as any two SIMD paths do.
    /// </summary>
    [SupportedOSPlatform("linux")]
    static string UseMklKernelsByInstructionSet()
    {
        if (Environment.GetEnvironmentVariable("RESEARCH_MKL_VENDOR_CHECK") == "keep")
        {
            return "MKL: vendor check kept (RESEARCH_MKL_VENDOR_CHECK=keep)";
        }
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported)
        {
            return "MKL: not x86, unchanged";
        }
        var (_, ebx, ecx, edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        string vendor = string.Concat(new[] { ebx, edx, ecx }.Select(r => System.Text.Encoding.ASCII.GetString(BitConverter.GetBytes(r))));
        if (vendor != "AuthenticAMD" || !System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            return $"MKL: {vendor} CPU, vendor check unchanged";
        }
        string library = Path.Combine(NativeFolder(), "libtorch_cpu.so");
        if (!NativeLibrary.TryLoad(library, out IntPtr handle) || !NativeLibrary.TryGetExport(handle, MklVendorCheck, out IntPtr check))
        {
            return $"MKL: {MklVendorCheck} not found in {library}, unchanged";
        }
        // Expected first instruction: mov eax, [rip + disp32] (8B 05 disp32), the load of the cached answer (-1: not
        // yet asked, 0: no, 1: yes).
        byte[] code = new byte[6];
        Marshal.Copy(check, code, 0, code.Length);
        if (code[0] != 0x8B || code[1] != 0x05)
        {
            return $"MKL: {MklVendorCheck} is not the code expected ({Convert.ToHexString(code)}), unchanged";
        }
        IntPtr cached = check + code.Length + BitConverter.ToInt32(code, 2);
        int before = Marshal.ReadInt32(cached);
        Marshal.WriteInt32(cached, 1);
        return before < 0
            ? "MKL: kernels chosen by instruction set on this AMD CPU (vendor check answered yes)"
            : $"MKL: vendor check answered yes, but MKL had asked already (answer {before}): kernels may stay generic";
    }

    /// <summary>What MKL's vendor check answers now (1: Intel paths), by calling it.</summary>
    public static int MklVendorCheckAnswer()
    {
        string library = Path.Combine(NativeFolder(), "libtorch_cpu.so");
        if (!NativeLibrary.TryLoad(library, out IntPtr handle) || !NativeLibrary.TryGetExport(handle, MklVendorCheck, out IntPtr check))
        {
            throw new EntryPointNotFoundException($"{MklVendorCheck} not found in {library}");
        }
        return Marshal.GetDelegateForFunctionPointer<NativeIntFunction>(check)();
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int NativeIntFunction();

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetNativeEnvironment(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    static extern IntPtr GetNativeEnvironment(string name);

    /// <summary>What <see cref="Initialize"/> found and did, for logs and run folders.</summary>
    public static string Report { get; private set; } = "not initialized";

    /// <summary>
    /// Patches the project's own copy of libLibTorchSharp.so when the system libstdc++ lacks
    /// <see cref="MissingVersion"/>, loads the CPU backend and sets the intra-op thread count
    /// (default: the core count; more threads than cores made matmul ~45x slower here).
    /// </summary>
    public static void Initialize(int? threads = null)
    {
        lock (Gate)
        {
            if (!initialized)
            {
                string patch = OperatingSystem.IsLinux() ? EnsureLoadableOnLinux() : "not Linux: nothing to patch";
                if (OperatingSystem.IsLinux())
                {
                    var existing = GetNativeEnvironment("MKL_CBWR");
                    if (existing == IntPtr.Zero)
                    {
                        SetNativeEnvironment("MKL_CBWR", MklReproducibility, 0);
                    }
                    patch += $"; MKL_CBWR={Marshal.PtrToStringAnsi(GetNativeEnvironment("MKL_CBWR"))}";
                }
                try
                {
                    InitializeDeviceType(DeviceType.CPU);
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException(
                        $"TorchSharp's native library did not load ({patch}). Run a clean build (dotnet build) and try again.",
                        e
                    );
                }
                string mkl = OperatingSystem.IsLinux() ? UseMklKernelsByInstructionSet() : "MKL: not Linux, unchanged";
                Report = patch + "; " + mkl + "; " + TuneAllocator();
                initialized = true;
            }
            int n = threads ?? Environment.ProcessorCount;
            if (n < 1 || n > Environment.ProcessorCount)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(threads),
                    n,
                    $"threads must be in 1..{Environment.ProcessorCount} (the core count)"
                );
            }
            set_num_threads(n);
        }
    }

    /// <summary>The folder TorchSharp loads its natives from in a built program (the deps.json layout).</summary>
    public static string NativeFolder()
    {
        string root = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) ?? AppContext.BaseDirectory;
        string[] candidates = [Path.Combine(root, "runtimes", "linux-x64", "native"), root];
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "libLibTorchSharp.so")))
            ?? throw new FileNotFoundException(
                $"libLibTorchSharp.so not found in {string.Join(" or ", candidates)}; build the project first (dotnet build)"
            );
    }

    /// <summary>The libstdc++ this process uses (already mapped, else the first on the standard paths).</summary>
    public static string? LibStdCxxPath()
    {
        if (File.Exists("/proc/self/maps"))
        {
            var mapped = File.ReadLines("/proc/self/maps")
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                .FirstOrDefault(p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));
            if (mapped is not null)
            {
                return mapped;
            }
        }
        string[] dirs = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib"];
        return dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
    }

    /// <summary>Whether <paramref name="library"/> defines the symbol version <paramref name="version"/>.</summary>
    public static bool Defines(string library, string version)
    {
        byte[] bytes = File.ReadAllBytes(library);
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(version + "\0");
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }

    [SupportedOSPlatform("linux")]
    static string EnsureLoadableOnLinux()
    {
        string? libstdcxx = LibStdCxxPath();
        if (libstdcxx is null)
        {
            return "libstdc++ not found; leaving TorchSharp as shipped";
        }
        if (Defines(libstdcxx, MissingVersion))
        {
            return $"{libstdcxx} has {MissingVersion}: no patch needed";
        }
        string target = Path.Combine(NativeFolder(), "libLibTorchSharp.so");
        return PatchFile(target) ? $"patched {target} ({MissingVersion} marked weak)" : $"{target} already patched";
    }

    /// <summary>
    /// Marks <see cref="MissingVersion"/> weak in <paramref name="path"/>. Writes a sibling temporary file and
    /// renames it over the original, so a hard-linked original (the NuGet cache) is never modified and a
    /// killed process leaves either the old file or the new one. Returns false when nothing needed changing.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    public static bool PatchFile(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (!ElfVersionNeeds.MarkWeak(elf, "libstdc++.so.6", MissingVersion, [OnlySymbolOfMissingVersion], path))
        {
            return false;
        }
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllBytes(temp, elf);
            File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        return true;
    }
}
