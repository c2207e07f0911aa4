using TorchSharp;
using static TorchSharp.torch;

namespace Research.Model.Runtime;

/// <summary>Turns a user's device string into a TorchSharp device, failing clearly when the backend is absent.</summary>
public static class Devices
{
    /// <summary><c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
    public static Device Resolve(string name)
    {
        string n = (name ?? "cpu").Trim().ToLowerInvariant();
        if (n == "cpu")
        {
            return CPU;
        }
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            bool available;
            try
            {
                InitializeDeviceType(DeviceType.CUDA);
                available = cuda.is_available();
            }
            catch (Exception)
            {
                available = false;
            }
            if (!available)
            {
                throw new NotSupportedException(
                    $"device '{name}': TorchSharp's CUDA backend is not available in this build (it references libtorch-cpu; "
                        + "the CUDA packages TorchSharp-cuda-linux/libtorch-cuda are not served by this registry). "
                        + "Use --device cpu, or reference libtorch-cuda-12.x-linux-x64 in src/Model.CSharp on a machine with CUDA."
                );
            }
            var device = new Device(n);
            if (device.index >= cuda.device_count())
            {
                throw new ArgumentException($"device '{name}': only {cuda.device_count()} CUDA device(s) present");
            }
            return device;
        }
        throw new ArgumentException($"device '{name}': expected cpu, cuda or cuda:N");
    }
}
