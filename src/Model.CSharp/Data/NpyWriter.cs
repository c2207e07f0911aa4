using System.Buffers.Binary;
using System.Text;

namespace Research.Model.Data;

/// <summary>
/// Streams a 2-D float32 .npy file (the same bytes as <see cref="Npy.Write(string, float[,])"/>) row by row, for
/// arrays too large to hold in memory: the shape is declared up front, rows are appended, and
/// <see cref="Complete"/> checks that exactly the declared rows came. The caller owns the stream (and, for
/// atomicity, writes to a temporary file it renames after <see cref="Complete"/>).
/// </summary>
public sealed class NpyWriter
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    readonly Stream stream;
    readonly byte[] buffer;
    long written;

    /// <summary>Writes the header of a (rows, columns) float32 array to <paramref name="stream"/>.</summary>
    public NpyWriter(Stream stream, long rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        this.stream = stream;
        Rows = rows;
        Columns = columns;
        buffer = new byte[4 * Math.Max(columns, 1)];
        stream.Write(Header(rows, columns));
    }

    /// <summary>Declared rows.</summary>
    public long Rows { get; }

    /// <summary>Declared columns.</summary>
    public int Columns { get; }

    /// <summary>Rows written so far.</summary>
    public long Written => written;

    /// <summary>The .npy header (magic, version 1.0, length, dict padded to a multiple of 64 bytes).</summary>
    public static byte[] Header(long rows, int columns)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        string header = dict + new string(' ', total - unpadded) + "\n";
        var bytes = new byte[10 + header.Length];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        return bytes;
    }

    /// <summary>Appends one row of <see cref="Columns"/> values.</summary>
    public void WriteRow(ReadOnlySpan<float> row)
    {
        if (row.Length != Columns)
        {
            throw new ArgumentException($"row {written} has {row.Length} values; the array has {Columns} columns");
        }
        if (written == Rows)
        {
            throw new InvalidOperationException($"the array was declared with {Rows} rows; row {written} is one too many");
        }
        for (int j = 0; j < row.Length; j++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * j), row[j]);
        }
        stream.Write(buffer, 0, 4 * row.Length);
        written++;
    }

    /// <summary>Appends the rows of a (n, <see cref="Columns"/>) matrix.</summary>
    public void WriteRows(float[,] rows)
    {
        if (rows.GetLength(1) != Columns)
        {
            throw new ArgumentException($"rows have {rows.GetLength(1)} columns; the array has {Columns}");
        }
        var row = new float[Columns];
        for (int i = 0; i < rows.GetLength(0); i++)
        {
            for (int j = 0; j < Columns; j++)
            {
                row[j] = rows[i, j];
            }
            WriteRow(row);
        }
    }

    /// <summary>Checks that all declared rows were written and flushes the stream.</summary>
    public void Complete()
    {
        if (written != Rows)
        {
            throw new InvalidOperationException($"the array was declared with {Rows} rows but {written} were written");
        }
        stream.Flush();
    }
}
