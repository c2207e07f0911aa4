using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Research.Model.Data;

/// <summary>A modality of a feature store: its name, element type and width (columns), the same for every item.</summary>
internal readonly record struct ModalityInfo(string Name, FeatureElementType Type, int Columns);

/// <summary>
/// The index of a feature store (<c>index.bin</c>), in memory column-wise. On disk, little-endian, strings as
/// .NET's <c>BinaryWriter</c> writes them (7-bit-encoded UTF-8 byte count, then the bytes):
/// <code>
/// "RFEATIDX" (8 bytes)  int32 version = 1
/// int32 M; M × { string name; uint8 element type (2 = float16, 4 = float32); int32 columns }
/// int32 N; int64 data.bin length
/// N × { string id; 32 bytes SHA-256 of the item's fingerprint string; M × { int32 rows (-1: absent); int64 offset } }
/// 32 bytes SHA-256 of everything before
/// </code>
/// An item's matrix for a modality is rows × columns elements, row-major, at the byte offset in <c>data.bin</c>.
/// </summary>
internal sealed class FeatureStoreIndex
{
    public const string IndexFile = "index.bin";
    public const string DataFile = "data.bin";
    public const int Version = 1;
    public const int FingerprintBytes = 32;
    static readonly byte[] Magic = "RFEATIDX"u8.ToArray();

    public List<ModalityInfo> Modalities { get; } = [];
    public List<string> Ids { get; } = [];
    readonly List<byte> fingerprints = [];
    readonly List<List<int>> rows = [];
    readonly List<List<long>> offsets = [];

    /// <summary>Bytes of data.bin the items cover.</summary>
    public long DataLength { get; set; }

    public int Count => Ids.Count;

    public int ModalityIndex(string name) => Modalities.FindIndex(m => m.Name == name);

    public int AddModality(ModalityInfo modality)
    {
        Modalities.Add(modality);
        rows.Add(Enumerable.Repeat(-1, Count).ToList());
        offsets.Add(Enumerable.Repeat(0L, Count).ToList());
        return Modalities.Count - 1;
    }

    public int AddItem(string id, ReadOnlySpan<byte> fingerprint)
    {
        Ids.Add(id);
        fingerprints.AddRange(fingerprint);
        for (int m = 0; m < Modalities.Count; m++)
        {
            rows[m].Add(-1);
            offsets[m].Add(0);
        }
        return Count - 1;
    }

    public void SetBlock(int item, int modality, long offset, int rowCount)
    {
        rows[modality][item] = rowCount;
        offsets[modality][item] = offset;
    }

    public ReadOnlySpan<byte> Fingerprint(int item) =>
        CollectionsMarshal.AsSpan(fingerprints).Slice(item * FingerprintBytes, FingerprintBytes);

    /// <summary>Rows of an item's matrix for a modality; -1 when the item has none.</summary>
    public int Rows(int item, int modality) => rows[modality][item];

    public List<int> RowsOf(int modality) => rows[modality];

    public long Offset(int item, int modality) => offsets[modality][item];

    public long BlockBytes(int item, int modality) => Math.Max(0, Rows(item, modality)) * BytesPerRow(modality);

    public long BytesPerRow(int modality) => (long)Modalities[modality].Columns * (int)Modalities[modality].Type;

    public byte[] Serialize()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Modalities.Count);
            foreach (var m in Modalities)
            {
                w.Write(m.Name);
                w.Write((byte)m.Type);
                w.Write(m.Columns);
            }
            w.Write(Count);
            w.Write(DataLength);
            for (int i = 0; i < Count; i++)
            {
                w.Write(Ids[i]);
                w.Write(Fingerprint(i));
                for (int m = 0; m < Modalities.Count; m++)
                {
                    w.Write(rows[m][i]);
                    w.Write(offsets[m][i]);
                }
            }
        }
        stream.Write(SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length)));
        return stream.ToArray();
    }

    /// <summary>Parses and checks an index; anything inconsistent is an error naming the store (and the item).</summary>
    public static FeatureStoreIndex Parse(byte[] bytes, string store)
    {
        InvalidDataException Corrupt(string what) => new($"feature store {store}: {IndexFile} is corrupt: {what}");
        if (bytes.Length < Magic.Length + 4 + FingerprintBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw Corrupt("it does not start with the feature-store signature");
        }
        int body = bytes.Length - FingerprintBytes;
        if (!SHA256.HashData(bytes.AsSpan(0, body)).AsSpan().SequenceEqual(bytes.AsSpan(body)))
        {
            throw Corrupt("checksum mismatch (truncated or modified)");
        }
        var index = new FeatureStoreIndex();
        using var r = new BinaryReader(new MemoryStream(bytes, 0, body), Encoding.UTF8);
        r.ReadBytes(Magic.Length);
        try
        {
            int version = r.ReadInt32();
            if (version != Version)
            {
                throw new InvalidDataException($"feature store {store}: format version {version}; this build reads version {Version}");
            }
            int modalities = r.ReadInt32();
            if (modalities < 0 || modalities > 4096)
            {
                throw Corrupt($"{modalities} modalities");
            }
            for (int m = 0; m < modalities; m++)
            {
                string name = r.ReadString();
                byte type = r.ReadByte();
                int columns = r.ReadInt32();
                if (name.Length == 0 || index.ModalityIndex(name) >= 0 || !Enum.IsDefined(typeof(FeatureElementType), type) || columns < 0)
                {
                    throw Corrupt($"modality #{m} ('{name}', type {type}, {columns} columns)");
                }
                index.AddModality(new ModalityInfo(name, (FeatureElementType)type, columns));
            }
            int count = r.ReadInt32();
            index.DataLength = r.ReadInt64();
            if (count < 0 || index.DataLength < 0)
            {
                throw Corrupt($"{count} items, {index.DataLength} data bytes");
            }
            var ids = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string id = r.ReadString();
                if (!ids.Add(id))
                {
                    throw Corrupt($"item '{id}' (#{i}) appears twice");
                }
                index.AddItem(id, r.ReadBytes(FingerprintBytes));
                for (int m = 0; m < modalities; m++)
                {
                    int rowCount = r.ReadInt32();
                    long offset = r.ReadInt64();
                    index.SetBlock(i, m, offset, rowCount);
                    if (rowCount < -1 || (rowCount >= 0 && (offset < 0 || offset > index.DataLength - index.BlockBytes(i, m))))
                    {
                        throw Corrupt(
                            $"item '{id}' (#{i}), modality '{index.Modalities[m].Name}': {rowCount} rows at offset {offset} "
                                + $"lie outside the {index.DataLength} data bytes"
                        );
                    }
                }
            }
            if (r.BaseStream.Position != body)
            {
                throw Corrupt($"{body - r.BaseStream.Position} unexpected bytes after the last item");
            }
        }
        catch (EndOfStreamException)
        {
            throw Corrupt("it ends early");
        }
        return index;
    }
}
