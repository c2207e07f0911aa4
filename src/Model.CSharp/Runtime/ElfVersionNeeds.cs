using System.Buffers.Binary;
using System.Text;

namespace Research.Model.Runtime;

/// <summary>
/// Reads and edits the version-needs table (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF
/// shared library. Used for one thing: marking a version requirement that no relocation uses as
/// weak (<c>VER_FLG_WEAK</c>), so the loader accepts a system library that lacks that version.
/// </summary>
public static class ElfVersionNeeds
{
    const uint ShtDynsym = 11;
    const uint ShtGnuVerneed = 0x6ffffffe;
    const uint ShtGnuVersym = 0x6fffffff;

    /// <summary>The flag the loader reads to treat a missing version as a warning, not an error.</summary>
    public const ushort VerFlgWeak = 0x2;

    /// <summary>One needed version: the library it comes from, its name, flags, index and where its flags live in the file.</summary>
    public sealed record Need(string File, string Version, ushort Flags, ushort Index, long FlagsOffset);

    /// <summary>Every version requirement in the file, in table order.</summary>
    public static List<Need> Read(byte[] elf, string path)
    {
        var sections = Sections(elf, path);
        var verneed = sections.Find(s => s.Type == ShtGnuVerneed) ?? throw new InvalidDataException($"{path}: no .gnu.version_r section");
        var strtab = sections[(int)verneed.Link];
        var needs = new List<Need>();
        long entry = verneed.Offset;
        for (int i = 0; i < (int)verneed.Info; i++)
        {
            ushort count = U16(elf, entry + 2, path);
            string file = CString(elf, strtab.Offset + U32(elf, entry + 4, path), path);
            long aux = entry + U32(elf, entry + 8, path);
            for (int j = 0; j < count; j++)
            {
                ushort flags = U16(elf, aux + 4, path);
                ushort index = U16(elf, aux + 6, path);
                string name = CString(elf, strtab.Offset + U32(elf, aux + 8, path), path);
                needs.Add(new Need(file, name, flags, index, aux + 4));
                aux += U32(elf, aux + 12, path);
            }
            uint next = U32(elf, entry + 12, path);
            if (next == 0)
            {
                break;
            }
            entry += next;
        }
        return needs;
    }

    /// <summary>Names of the dynamic symbols whose version index is <paramref name="index"/>.</summary>
    public static IReadOnlyList<string> SymbolsWithVersion(byte[] elf, ushort index, string path)
    {
        var sections = Sections(elf, path);
        var dynsym = sections.Find(s => s.Type == ShtDynsym) ?? throw new InvalidDataException($"{path}: no .dynsym section");
        var versym = sections.Find(s => s.Type == ShtGnuVersym) ?? throw new InvalidDataException($"{path}: no .gnu.version section");
        var names = sections[(int)dynsym.Link];
        long count = dynsym.Size / 24;
        var result = new List<string>();
        for (long i = 0; i < count; i++)
        {
            ushort v = (ushort)(U16(elf, versym.Offset + 2 * i, path) & 0x7fff);
            if (v == index)
            {
                result.Add(CString(elf, names.Offset + U32(elf, dynsym.Offset + 24 * i, path), path));
            }
        }
        return result;
    }

    /// <summary>
    /// Marks the requirement <paramref name="version"/> of <paramref name="file"/> weak, after checking that
    /// the symbols carrying it are exactly <paramref name="expectedSymbols"/>. Returns false when it was weak already.
    /// </summary>
    public static bool MarkWeak(byte[] elf, string file, string version, IReadOnlyCollection<string> expectedSymbols, string path)
    {
        var need =
            Read(elf, path).Find(n => n.File == file && n.Version == version)
            ?? throw new InvalidDataException($"{path}: needs no {version} from {file}");
        if ((need.Flags & VerFlgWeak) != 0)
        {
            return false;
        }
        var symbols = SymbolsWithVersion(elf, need.Index, path);
        if (symbols.Count != expectedSymbols.Count || !new HashSet<string>(symbols).SetEquals(expectedSymbols))
        {
            throw new InvalidDataException(
                $"{path}: {version} is used by [{string.Join(", ", symbols)}], expected [{string.Join(", ", expectedSymbols)}]; refusing to mark it weak"
            );
        }
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan((int)need.FlagsOffset, 2), (ushort)(need.Flags | VerFlgWeak));
        return true;
    }

    sealed record Section(uint Type, long Offset, long Size, uint Link, uint Info);

    static List<Section> Sections(byte[] elf, string path)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new InvalidDataException($"{path}: not an ELF file");
        }
        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF is supported (class {elf[4]}, data {elf[5]})");
        }
        long shoff = (long)U64(elf, 0x28, path);
        ushort shentsize = U16(elf, 0x3a, path);
        ushort shnum = U16(elf, 0x3c, path);
        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            long h = shoff + (long)i * shentsize;
            sections.Add(
                new Section(
                    U32(elf, h + 4, path),
                    (long)U64(elf, h + 0x18, path),
                    (long)U64(elf, h + 0x20, path),
                    U32(elf, h + 0x28, path),
                    U32(elf, h + 0x2c, path)
                )
            );
        }
        return sections;
    }

    static void Check(byte[] elf, long offset, int size, string path)
    {
        if (offset < 0 || offset + size > elf.Length)
        {
            throw new InvalidDataException($"{path}: truncated ELF (read of {size} bytes at {offset}, file has {elf.Length})");
        }
    }

    static ushort U16(byte[] b, long o, string p)
    {
        Check(b, o, 2, p);
        return BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan((int)o, 2));
    }

    static uint U32(byte[] b, long o, string p)
    {
        Check(b, o, 4, p);
        return BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)o, 4));
    }

    static ulong U64(byte[] b, long o, string p)
    {
        Check(b, o, 8, p);
        return BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan((int)o, 8));
    }

    static string CString(byte[] b, long o, string p)
    {
        Check(b, o, 1, p);
        int end = Array.IndexOf(b, (byte)0, (int)o);
        if (end < 0)
        {
            throw new InvalidDataException($"{p}: unterminated string at {o}");
        }
        return Encoding.ASCII.GetString(b, (int)o, end - (int)o);
    }
}
