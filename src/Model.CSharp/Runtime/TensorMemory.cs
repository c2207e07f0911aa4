using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>
/// The address of a contiguous CPU tensor's first element, for code that fills or reads a tensor's memory in place
/// (dropout masks, batches read from feature stores, MPI buffers). TorchSharp's way there, <c>t.storage&lt;T&gt;()</c>,
/// makes a second tensor (<c>t.float()</c>, an alias) that nothing disposes: it keeps the memory alive until the
/// finalizer runs, so the allocator cannot reuse it and the next tensor of that size costs fresh pages (measured:
/// a 16 × 60 × 128 float tensor made and dropped 0.07 ms, with <c>storage&lt;float&gt;()</c> 1.4 ms). Here the data
/// pointer comes from LibTorchSharp's own export (<c>THSTensor_data</c>: the storage's data plus the tensor's offset),
/// with no object made.
/// </summary>
public static class TensorMemory
{
    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    static extern IntPtr TensorData(IntPtr tensor);

    /// <summary>
    /// The first element's address of <paramref name="t"/>, which must be a contiguous CPU tensor; valid while the
    /// tensor lives and is not resized. Zero for a tensor without elements.
    /// </summary>
    public static IntPtr Address(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous())
        {
            throw new ArgumentException(
                $"a tensor's memory is addressable here only on the CPU and contiguous (got {t.device}, contiguous {t.is_contiguous()})"
            );
        }
        if (t.numel() == 0)
        {
            return IntPtr.Zero;
        }
        IntPtr data = TensorData(t.Handle);
        if (data == IntPtr.Zero)
        {
            CheckForErrors();
            throw new InvalidOperationException(
                $"libtorch gave no data pointer for a {t.dtype} tensor of shape [{string.Join(", ", t.shape)}]"
            );
        }
        return data;
    }

    /// <summary>The elements of a contiguous CPU tensor of element type <typeparamref name="T"/> as a span (see <see cref="Address"/>).</summary>
    public static unsafe Span<T> Span<T>(Tensor t)
        where T : unmanaged
    {
        if (t.ElementSize != sizeof(T))
        {
            throw new ArgumentException($"a {t.dtype} tensor viewed as {typeof(T).Name}: element sizes differ");
        }
        return new Span<T>((void*)Address(t), checked((int)t.numel()));
    }
}
