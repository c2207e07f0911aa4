module Research.Model.Tests.TorchRuntimeTests

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Runtime

[<DllImport("libc", EntryPoint = "malloc")>]
extern nativeint private malloc(unativeint size)

[<DllImport("libc", EntryPoint = "free")>]
extern void private free(nativeint pointer)

/// Whether glibc serves a block of this size by a fresh mmap (unmapped again when freed, so its pages fault in anew
/// on every use) rather than from its heap: the IS_MMAPPED bit (2) of the chunk's size word, just before the block.
let mapped (bytes: int64) =
    let p = malloc (unativeint bytes)
    let flag = (Marshal.ReadInt64(p - 8n) &&& 2L) <> 0L
    free p
    flag

/// `Model.Tests.dll --mapped-child MiB` in a fresh process (its main thread, nothing freed yet): "True" when the
/// block was mapped; the environment decides the tuning (RESEARCH_MALLOC_TUNING=0: glibc's defaults).
let private mappedInChild (mib: int) (tuning: bool) =
    let dll = Reflection.Assembly.GetEntryAssembly().Location

    let info =
        ProcessStartInfo("dotnet", [ dll; "--mapped-child"; string mib ], UseShellExecute = false, RedirectStandardOutput = true)

    info.Environment["RESEARCH_MALLOC_TUNING"] <- (if tuning then "1" else "0")
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEnd().Trim()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 "child exit code"
    bool.Parse out

/// `Model.Tests.dll --mkl-child` in a fresh process with RESEARCH_MKL_VENDOR_CHECK set to `setting`: what MKL's
/// vendor check answers there after Initialize.
let private mklAnswerInChild (setting: string) =
    let dll = Reflection.Assembly.GetEntryAssembly().Location

    let info =
        ProcessStartInfo("dotnet", [ dll; "--mkl-child" ], UseShellExecute = false, RedirectStandardOutput = true)

    info.Environment["RESEARCH_MKL_VENDOR_CHECK"] <- setting
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEnd().Trim()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 "child exit code"
    int (out.Split('\n') |> Array.last)

/// An AMD CPU with AVX2: where Initialize makes MKL choose its kernels by instruction set.
let private amdWithAvx2 =
    Runtime.Intrinsics.X86.X86Base.IsSupported
    && Runtime.Intrinsics.X86.Avx2.IsSupported
    && (let struct (_, ebx, ecx, edx) = Runtime.Intrinsics.X86.X86Base.CpuId(0, 0)

        [ ebx; edx; ecx ]
        |> List.map (fun r -> Text.Encoding.ASCII.GetString(BitConverter.GetBytes r))
        |> String.concat "")
        =
        "AuthenticAMD"

[<Tests>]
let tests =
    testSequenced
    <| testList
        "TorchRuntime"
        [
            // A block above glibc's largest adaptive threshold (32 MiB), so that its defaults map it whatever was freed before.
            test "blocks of a step's sizes come from glibc's heap, not a fresh mmap (the allocator tuning)" {
                Expect.stringContains TorchRuntime.Report "mmap threshold 256 MiB" "Initialize applied the tuning"
                Expect.isTrue (mappedInChild 48 false) "glibc's defaults map 48 MiB (the control)"
                Expect.isFalse (mappedInChild 48 true) "tuned: 48 MiB from the heap"

                for mib in [ 16L; 32L ] do
                    Expect.isFalse (mapped (mib <<< 20)) $"{mib} MiB from the heap on a test thread"
            }

            test "on AMD, MKL's vendor check answers yes (kernels by instruction set); its fp32 products stay right" {
                if amdWithAvx2 then
                    Expect.stringContains TorchRuntime.Report "kernels chosen by instruction set" "Initialize set it"
                    Expect.equal (TorchRuntime.MklVendorCheckAnswer()) 1 "answers yes in this process"
                    Expect.equal (mklAnswerInChild "keep") 0 "RESEARCH_MKL_VENDOR_CHECK=keep: MKL's own answer, no"
                    Expect.equal (mklAnswerInChild "") 1 "by default, yes"
                else
                    Expect.isFalse (TorchRuntime.Report.Contains "kernels chosen by instruction set") "not AMD: unchanged"

                // Whatever kernels MKL chose: fp32 products (the step's shapes, odd sizes, transposed operands,
                // batched) against float64 ones.
                torch.manual_seed 5L |> ignore

                for m, k, n in [ 960L, 128L, 384L; 37L, 200L, 601L; 512L, 512L, 512L; 16L, 1024L, 600L ] do
                    use a = torch.randn (m, k, dtype = torch.float64)
                    use b = torch.randn (k, n, dtype = torch.float64)
                    use exact = torch.matmul (a, b)

                    let worst (c: torch.Tensor) =
                        use d = (c.to_type torch.float64 - exact).abs().max()
                        d.item<float>() / exact.abs().max().item<float>()

                    use af = a.to_type torch.float32
                    use bf = b.to_type torch.float32
                    use plain = torch.matmul (af, bf)
                    use transposed = torch.matmul (af.t().contiguous().t(), bf.t().contiguous().t())
                    use batched = torch.bmm(af.unsqueeze 0L, bf.unsqueeze 0L).squeeze 0L

                    for name, c in [ "plain", plain; "transposed operands", transposed; "batched", batched ] do
                        Expect.isLessThan (worst c) 1e-5 $"{m}x{k} by {k}x{n}, {name}"
            }

            test "TensorMemory addresses a tensor's own elements (offset included), writes land in it, strided views are refused" {
                use t = torch.arange(12.0f).reshape(3L, 4L)
                use row = t.narrow (0, 1L, 1L) // a view: the storage of t, offset 4 elements
                let span = TensorMemory.Span<float32>(row)
                Expect.equal (span.ToArray()) [| 4.0f; 5.0f; 6.0f; 7.0f |] "the row's elements, from its offset"
                span[2] <- -1.0f
                Expect.equal (t[1L, 2L].item<float32>()) -1.0f "a write through the span changes the tensor"
                use column = t.narrow (1, 1L, 1L)
                Expect.throwsT<ArgumentException> (fun () -> TensorMemory.Address column |> ignore) "a strided view"
                use wide = torch.zeros ([| 2L |], dtype = torch.float64)

                let viewAsFloat () =
                    TensorMemory.Span<float32>(wide).Length |> ignore

                Expect.throwsT<ArgumentException> viewAsFloat "element sizes differ"
                use empty = torch.zeros ([| 0L; 4L |])
                Expect.equal (TensorMemory.Address empty) IntPtr.Zero "no elements, no address"
            }

            test "TorchSharp loads and computes a matmul and a gradient" {
                let a = Tensors.floats [ 2L; 2L ] [| 1.0f; 2.0f; 3.0f; 4.0f |] true
                let b = Tensors.floats [ 2L; 2L ] [| 5.0f; 6.0f; 7.0f; 8.0f |] false
                let y = torch.matmul(a, b).sum()
                y.backward ()
                Expect.floatClose Accuracy.high (y.item<float32>() |> float) 134.0 "sum of [[19,22],[43,50]]"
                // d/da sum(a @ b) = row sums of b, broadcast over rows: [[11, 15], [11, 15]]
                Expect.sequenceEqual (Tensors.values a.grad) [| 11.0f; 15.0f; 11.0f; 15.0f |] "gradient"
            }

            test "the loaded libLibTorchSharp.so needs GLIBCXX_3.4.32 weakly or the system has it" {
                let lib = Path.Combine(TorchRuntime.NativeFolder(), "libLibTorchSharp.so")

                let need =
                    ElfVersionNeeds.Read(File.ReadAllBytes lib, lib)
                    |> Seq.find (fun n -> n.Version = TorchRuntime.MissingVersion)

                let systemHasIt =
                    match TorchRuntime.LibStdCxxPath() with
                    | null -> false
                    | p -> TorchRuntime.Defines(p, TorchRuntime.MissingVersion)

                Expect.isTrue
                    (systemHasIt || (need.Flags &&& ElfVersionNeeds.VerFlgWeak) <> 0us)
                    $"flags {need.Flags}, system libstdc++ has it: {systemHasIt}"
            }

            test "patching marks only the one requirement weak and changes one byte" {
                let lib = Path.Combine(TorchRuntime.NativeFolder(), "libLibTorchSharp.so")
                let original = File.ReadAllBytes lib
                // Start from the unpatched state, whatever the runtime did to the project's copy.
                let need =
                    ElfVersionNeeds.Read(original, lib)
                    |> Seq.find (fun n -> n.Version = TorchRuntime.MissingVersion)

                let unpatched = Array.copy original
                unpatched[int need.FlagsOffset] <- unpatched[int need.FlagsOffset] &&& ~~~(byte ElfVersionNeeds.VerFlgWeak)
                let tmp = Path.GetTempFileName()

                try
                    File.WriteAllBytes(tmp, unpatched)
                    Expect.isTrue (TorchRuntime.PatchFile tmp) "first patch changes the file"
                    Expect.isFalse (TorchRuntime.PatchFile tmp) "second patch is a no-op"
                    let patched = File.ReadAllBytes tmp

                    let differing =
                        Seq.zip unpatched patched |> Seq.filter (fun (x, y) -> x <> y) |> Seq.length

                    Expect.equal differing 1 "exactly one byte differs"
                    let before = ElfVersionNeeds.Read(unpatched, tmp)
                    let after = ElfVersionNeeds.Read(patched, tmp)

                    for b, a in Seq.zip before after do
                        if b.Version = TorchRuntime.MissingVersion then
                            Expect.equal a.Flags (b.Flags ||| ElfVersionNeeds.VerFlgWeak) "weak flag set"
                        else
                            Expect.equal a.Flags b.Flags $"{b.Version} untouched"

                    Expect.sequenceEqual
                        (ElfVersionNeeds.SymbolsWithVersion(patched, need.Index, tmp))
                        [ TorchRuntime.OnlySymbolOfMissingVersion ]
                        "one symbol carries the version"
                finally
                    File.Delete tmp
            }

            test "a non-ELF or truncated file is refused with its path" {
                let tmp = Path.GetTempFileName()

                try
                    File.WriteAllBytes(tmp, Array.zeroCreate 10)
                    Expect.throwsT<InvalidDataException> (fun () -> TorchRuntime.PatchFile tmp |> ignore) "not ELF"
                finally
                    File.Delete tmp
            }

            test "cuda is refused with a clear message when the backend is absent" {
                if not (torch.cuda.is_available ()) then
                    Expect.throwsC (fun () -> Devices.Resolve "cuda" |> ignore) (fun e ->
                        Expect.stringContains e.Message "CUDA backend is not available" "message says why")

                Expect.equal (Devices.Resolve "cpu").``type`` DeviceType.CPU "cpu"
                Expect.throws (fun () -> Devices.Resolve "tpu" |> ignore) "unknown device"
            }
        ]
