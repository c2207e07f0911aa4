using System.Buffers.Binary;
using System.Globalization;

namespace Research.Model.Audio;

/// <summary>
/// Reads RIFF/WAVE files in C#: PCM (format 1) with 8-bit unsigned, 16-, 24- or 32-bit signed samples; IEEE float
/// (format 3) with 32- or 64-bit samples; WAVE_FORMAT_EXTENSIBLE (0xFFFE) whose sub-format is PCM or float. Any
/// channel count is averaged to mono; chunks other than fmt and data are skipped (odd sizes padded, as RIFF says).
/// Samples come back in the int16 scale (<see cref="Waveform"/>) at the file's own sample rate.
/// </summary>
public static class WavReader
{
    const ushort FormatPcm = 1;
    const ushort FormatFloat = 3;
    const ushort FormatExtensible = 0xFFFE;

    /// <summary>A data size that streaming writers (ffmpeg, sox to a pipe) use for "up to the end of the file".</summary>
    const uint SizeUnknown = 0xFFFFFFFF;

    // The 14 bytes after the format code in KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT.
    static readonly byte[] SubFormatTail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Whether the file starts with a RIFF/WAVE header (what <see cref="Read(string)"/> accepts).</summary>
    public static bool IsWave(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[12];
        return stream.ReadAtLeast(head, 12, throwOnEndOfStream: false) == 12 && IsWave(head);
    }

    static bool IsWave(ReadOnlySpan<byte> head) => head[0..4].SequenceEqual("RIFF"u8) && head[8..12].SequenceEqual("WAVE"u8);

    /// <summary>Reads a WAV file as mono samples in the int16 scale at its own sample rate.</summary>
    /// <exception cref="InvalidDataException">The file is not a WAV file this reader accepts; the message names
    /// the file and what was found.</exception>
    public static Waveform Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return Read(bytes, path);
    }

    /// <summary>Reads WAV bytes; <paramref name="name"/> is the file or item named in errors.</summary>
    public static Waveform Read(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length == 0)
        {
            throw new InvalidDataException($"{name}: the file is empty (0 bytes), expected a RIFF/WAVE file");
        }
        if (bytes.Length < 12 || !IsWave(bytes))
        {
            throw new InvalidDataException($"{name}: not a RIFF/WAVE file (expected 'RIFF' ... 'WAVE' in the first 12 bytes)");
        }
        Format? format = null;
        int position = 12;
        while (position + 8 <= bytes.Length)
        {
            string id = ChunkId(bytes.Slice(position, 4));
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(position + 4, 4));
            int body = position + 8;
            long remaining = bytes.Length - body;
            if (id == "data")
            {
                if (format is null)
                {
                    throw new InvalidDataException($"{name}: 'data' chunk at byte {position} comes before any 'fmt ' chunk");
                }
                long length = size == SizeUnknown ? remaining - remaining % format.BlockAlign : size;
                if (length > remaining)
                {
                    throw new InvalidDataException(
                        $"{name}: truncated: the 'data' chunk declares {size} bytes but only {remaining} remain in the file"
                    );
                }
                return Decode(bytes.Slice(body, (int)length), format, name);
            }
            if (size > remaining)
            {
                throw new InvalidDataException(
                    $"{name}: truncated: the '{id}' chunk at byte {position} declares {size} bytes but only {remaining} remain"
                );
            }
            if (id == "fmt ")
            {
                format = ParseFormat(bytes.Slice(body, (int)size), name);
            }
            // Chunks are padded to an even size.
            position = body + (int)size + (int)(size & 1);
        }
        throw new InvalidDataException(
            format is null ? $"{name}: no 'fmt ' chunk and no 'data' chunk found" : $"{name}: no 'data' chunk found after the 'fmt ' chunk"
        );
    }

    sealed record Format(ushort Tag, int Channels, int SampleRate, int BlockAlign, int Bits);

    static string ChunkId(ReadOnlySpan<byte> id)
    {
        var chars = new char[4];
        for (int i = 0; i < 4; i++)
        {
            chars[i] = id[i] is >= 0x20 and < 0x7F ? (char)id[i] : '?';
        }
        return new string(chars);
    }

    static Format ParseFormat(ReadOnlySpan<byte> fmt, string name)
    {
        if (fmt.Length < 16)
        {
            throw new InvalidDataException($"{name}: the 'fmt ' chunk has {fmt.Length} bytes, expected at least 16");
        }
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        uint rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);
        ushort effective = tag;
        if (tag == FormatExtensible)
        {
            if (fmt.Length < 40)
            {
                throw new InvalidDataException(
                    $"{name}: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has {fmt.Length} bytes, expected 40 (with the sub-format GUID)"
                );
            }
            effective = BinaryPrimitives.ReadUInt16LittleEndian(fmt[24..]);
            if (!fmt.Slice(26, 14).SequenceEqual(SubFormatTail))
            {
                throw new InvalidDataException($"{name}: WAVE_FORMAT_EXTENSIBLE with a sub-format GUID that is not a standard one");
            }
        }
        if (effective != FormatPcm && effective != FormatFloat)
        {
            string what = effective switch
            {
                2 => "Microsoft ADPCM",
                6 => "A-law",
                7 => "mu-law",
                0x11 => "IMA ADPCM",
                0x55 => "MPEG layer 3",
                _ => "unknown",
            };
            throw new InvalidDataException(
                $"{name}: unsupported WAV format 0x{effective:X4} ({what}); supported: PCM (1), IEEE float (3), "
                    + "or WAVE_FORMAT_EXTENSIBLE with one of them (convert other encodings with ffmpeg)"
            );
        }
        bool supportedBits = effective == FormatPcm ? bits is 8 or 16 or 24 or 32 : bits is 32 or 64;
        if (!supportedBits)
        {
            string kind = effective == FormatPcm ? "PCM" : "IEEE float";
            string allowed = effective == FormatPcm ? "8, 16, 24 or 32" : "32 or 64";
            throw new InvalidDataException($"{name}: unsupported {bits}-bit {kind} WAV; supported: {allowed} bits per sample");
        }
        if (channels < 1)
        {
            throw new InvalidDataException($"{name}: the 'fmt ' chunk says {channels} channels");
        }
        if (rate < 1 || rate > int.MaxValue)
        {
            throw new InvalidDataException($"{name}: the 'fmt ' chunk says a sample rate of {rate} Hz");
        }
        if (blockAlign != channels * bits / 8)
        {
            throw new InvalidDataException(
                $"{name}: block align {blockAlign} does not match {channels} channel(s) of {bits}-bit samples ({channels * bits / 8} bytes)"
            );
        }
        return new Format(effective, channels, (int)rate, blockAlign, bits);
    }

    static Waveform Decode(ReadOnlySpan<byte> data, Format f, string name)
    {
        if (data.Length == 0)
        {
            throw new InvalidDataException($"{name}: the 'data' chunk is empty (zero-length audio)");
        }
        if (data.Length % f.BlockAlign != 0)
        {
            throw new InvalidDataException(
                $"{name}: truncated: the 'data' chunk has {data.Length} bytes, not a whole number of {f.BlockAlign}-byte sample frames"
            );
        }
        int frames = data.Length / f.BlockAlign;
        int width = f.Bits / 8;
        var samples = new float[frames];
        double perChannel = 1.0 / f.Channels;
        for (int t = 0; t < frames; t++)
        {
            double sum = 0;
            int offset = t * f.BlockAlign;
            for (int c = 0; c < f.Channels; c++, offset += width)
            {
                double v = Sample(data.Slice(offset, width), f);
                if (!double.IsFinite(v))
                {
                    throw new InvalidDataException(
                        $"{name}: sample {t} of channel {c} is {v.ToString(CultureInfo.InvariantCulture)}; expected finite float audio"
                    );
                }
                sum += v;
            }
            samples[t] = (float)(sum * perChannel);
        }
        return new Waveform(samples, f.SampleRate);
    }

    static double Sample(ReadOnlySpan<byte> s, Format f) =>
        f.Tag == FormatFloat
            ? f.Bits == 32
                ? BinaryPrimitives.ReadSingleLittleEndian(s) * (double)Waveform.Int16Scale
                : BinaryPrimitives.ReadDoubleLittleEndian(s) * Waveform.Int16Scale
            : f.Bits switch
            {
                8 => (s[0] - 128) * 256.0,
                16 => BinaryPrimitives.ReadInt16LittleEndian(s),
                // Sign-extend the 24-bit value via the top byte, then scale 2^23 to 2^15.
                24 => ((s[0] | (s[1] << 8) | ((sbyte)s[2] << 16))) / 256.0,
                _ => BinaryPrimitives.ReadInt32LittleEndian(s) / 65536.0,
            };
}
