using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Research.Model.Data;

/// <summary>
/// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html) for float arrays:
/// writes version 1.0, little-endian float32 ('&lt;f4'), C order, the header padded with spaces to a multiple of
/// 64 bytes; reads versions 1.0–3.0 with '&lt;f4' or '&lt;f8' data, 1-D (as n × 1) or 2-D, C order.
/// Files are written under a temporary name and renamed, so a failed write leaves no partial file.
/// </summary>
public static class Npy
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes a 2-D float32 array of shape (rows, columns).</summary>
    public static void Write(string path, float[,] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Write(path, $"({data.GetLength(0)}, {data.GetLength(1)})", data.Length, i => data[i / data.GetLength(1), i % data.GetLength(1)]);
    }

    /// <summary>Writes a 1-D float32 array of shape (n,).</summary>
    public static void Write(string path, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Write(path, $"({data.Length},)", data.Length, i => data[i]);
    }

    static void Write(string path, string shape, int count, Func<int, float> at)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        string header = dict + new string(' ', total - unpadded) + "\n";
        AtomicFile.Write(
            path,
            stream =>
            {
                var head = new byte[10];
                Magic.CopyTo(head, 0);
                head[6] = 1;
                head[7] = 0;
                BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)header.Length);
                stream.Write(head);
                stream.Write(Encoding.ASCII.GetBytes(header));
                var buffer = new byte[4 * Math.Min(count, 1 << 14)];
                for (int i = 0; i < count; )
                {
                    int chunk = Math.Min(count - i, buffer.Length / 4);
                    for (int j = 0; j < chunk; j++)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * j), at(i + j));
                    }
                    stream.Write(buffer, 0, 4 * chunk);
                    i += chunk;
                }
            }
        );
    }

    /// <summary>
    /// Reads a float32 or float64 array (little-endian, C order) of 1 dimension (returned as n × 1) or 2.
    /// </summary>
    /// <exception cref="InvalidDataException">Not such an array; the message names the file and what was found.</exception>
    public static float[,] ReadMatrix(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path}: not a .npy file (expected the magic string \\x93NUMPY at the start)");
        }
        int major = bytes[6];
        int lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw new InvalidDataException($"{path}: .npy format version {major}.{bytes[7]} is not supported (1.0 to 3.0 are)"),
        };
        if (bytes.Length < 8 + lengthBytes)
        {
            throw new InvalidDataException($"{path}: truncated .npy header");
        }
        long headerLength =
            lengthBytes == 2
                ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))
                : BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        long dataStart = 8 + lengthBytes + headerLength;
        if (dataStart > bytes.Length)
        {
            throw new InvalidDataException(
                $"{path}: truncated .npy header ({headerLength} bytes declared, {bytes.Length - 8 - lengthBytes} present)"
            );
        }
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, 8 + lengthBytes, (int)headerLength);

        string descr = Field(header, "descr", @"'([^']*)'", path);
        string fortran = Field(header, "fortran_order", @"(True|False)", path);
        string shapeText = Field(header, "shape", @"\(([^)]*)\)", path);
        if (descr != "<f4" && descr != "<f8")
        {
            throw new InvalidDataException($"{path}: dtype '{descr}' is not supported; expected '<f4' (float32) or '<f8' (float64)");
        }
        long[] shape;
        try
        {
            shape = Array.ConvertAll(
                shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)
            );
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: cannot read the shape ({shapeText})", e);
        }
        if (shape.Length is not (1 or 2))
        {
            throw new InvalidDataException($"{path}: shape ({shapeText}) has {shape.Length} dimensions; expected 1 or 2");
        }
        if (fortran == "True" && shape.Length == 2 && shape[0] > 1 && shape[1] > 1)
        {
            throw new InvalidDataException(
                $"{path}: the array is in Fortran (column-major) order; expected C order (np.ascontiguousarray)"
            );
        }
        long rows = shape[0];
        long columns = shape.Length == 2 ? shape[1] : 1;
        int width = descr == "<f4" ? 4 : 8;
        // A bogus shape must neither overflow the byte count (and so pass for the file's length) nor allocate.
        if (rows > int.MaxValue || columns > int.MaxValue)
        {
            throw new InvalidDataException($"{path}: shape ({shapeText}) has more than {int.MaxValue} rows or columns");
        }
        long cells = rows * columns; // at most (2^31 - 1)^2: no overflow
        long expected = cells <= long.MaxValue / width ? cells * width : long.MaxValue;
        long present = bytes.Length - dataStart;
        if (present != expected)
        {
            string what = present < expected ? "truncated" : "trailing bytes";
            throw new InvalidDataException(
                $"{path}: {what}: shape ({shapeText}) of '{descr}' needs {expected} data bytes, the file has {present}"
            );
        }
        var result = new float[rows, columns];
        var data = bytes.AsSpan((int)dataStart);
        long i = 0;
        for (long r = 0; r < rows; r++)
        {
            for (long c = 0; c < columns; c++, i++)
            {
                result[r, c] =
                    width == 4
                        ? BinaryPrimitives.ReadSingleLittleEndian(data.Slice((int)(i * 4)))
                        : (float)BinaryPrimitives.ReadDoubleLittleEndian(data.Slice((int)(i * 8)));
            }
        }
        return result;
    }

    static string Field(string header, string key, string valuePattern, string path)
    {
        var m = Regex.Match(header, $@"['""]{key}['""]\s*:\s*{valuePattern}");
        if (!m.Success)
        {
            throw new InvalidDataException($"{path}: the .npy header has no readable '{key}' entry: {header.Trim()}");
        }
        return m.Groups[1].Value;
    }
}
