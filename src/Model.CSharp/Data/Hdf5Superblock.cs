using System.Buffers.Binary;

namespace Research.Model.Data;

/// <summary>
/// The two facts of an HDF5 superblock a reader needs before trusting a file: that the signature is there, and
/// that the file is as long as the superblock's end-of-file address says (libhdf5 refuses a shorter file as
/// "truncated"; PureHDF would open it and fail later, deep inside a read).
/// </summary>
internal static class Hdf5Superblock
{
    static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n'];

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming <paramref name="path"/> unless it starts (at 0, 512, 1024, …)
    /// with an HDF5 superblock whose end-of-file address the file length reaches.
    /// </summary>
    public static void Check(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = stream.Length;
        var header = new byte[64];
        for (long at = 0; at + Signature.Length <= length; at = at == 0 ? 512 : at * 2)
        {
            stream.Position = at;
            int got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (!header.AsSpan(0, Signature.Length).SequenceEqual(Signature))
            {
                continue;
            }
            long endOfFile = EndOfFileAddress(path, header.AsSpan(0, got));
            if (at + endOfFile > length)
            {
                throw new InvalidDataException(
                    $"{path}: truncated HDF5 file: the superblock says it ends at byte {at + endOfFile}, the file has {length} bytes"
                );
            }
            return;
        }
        throw new InvalidDataException($"{path}: not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, ...)");
    }

    /// <summary>The end-of-file address (relative to the superblock) of a superblock of version 0–3.</summary>
    static long EndOfFileAddress(string path, ReadOnlySpan<byte> sb)
    {
        if (sb.Length < 9)
        {
            throw new InvalidDataException($"{path}: truncated HDF5 file: the superblock is cut off");
        }
        int version = sb[8];
        // Versions 0/1: 16 (v0) or 20 (v1) bytes of fixed fields after the signature, then base address, free-space
        // address, end-of-file address. Versions 2/3: 4 bytes, then base, extension and end-of-file addresses.
        (int offsetSizeAt, int fieldsEnd) = version switch
        {
            0 => (13, 24),
            1 => (13, 28),
            2 or 3 => (9, 12),
            _ => throw new InvalidDataException($"{path}: HDF5 superblock version {version} is not supported (0-3)"),
        };
        if (sb.Length <= offsetSizeAt)
        {
            throw new InvalidDataException($"{path}: truncated HDF5 file: the superblock is cut off");
        }
        int offsetSize = sb[offsetSizeAt];
        int eofAt = fieldsEnd + 2 * offsetSize;
        if (offsetSize is not (2 or 4 or 8) || sb.Length < eofAt + offsetSize)
        {
            throw new InvalidDataException($"{path}: HDF5 superblock is cut off or has offset size {offsetSize} (expected 2, 4 or 8)");
        }
        var field = sb.Slice(eofAt, offsetSize);
        return offsetSize switch
        {
            2 => BinaryPrimitives.ReadUInt16LittleEndian(field),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(field),
            _ => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(field), long.MaxValue),
        };
    }
}
