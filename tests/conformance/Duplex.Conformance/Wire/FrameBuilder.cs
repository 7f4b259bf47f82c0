using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Duplex.Conformance.Wire;

/// <summary>
/// Encodes frames byte for byte, including frames RFC 6455 forbids: the harness has to be able
/// to send reserved opcodes, RSV bits, fragmented control frames and oversized control payloads.
/// Nothing here checks validity; the cases decide what goes on the wire.
/// </summary>
internal static class FrameBuilder
{
    /// <summary>Builds one complete frame. When <paramref name="mask"/> is set a fresh random key is used.</summary>
    public static byte[] Build(int opcode, ReadOnlySpan<byte> payload, bool fin, int rsv, bool mask)
    {
        Span<byte> key = stackalloc byte[4];
        int headerLength = HeaderLength(payload.Length, mask);
        var frame = new byte[headerLength + payload.Length];
        WriteHeader(frame, opcode, payload.Length, fin, rsv, mask ? NewMaskKey(key) : default);
        payload.CopyTo(frame.AsSpan(headerLength));
        if (mask)
        {
            ApplyMask(frame.AsSpan(headerLength), key, 0);
        }
        return frame;
    }

    /// <summary>
    /// Repeats <paramref name="pattern"/> until <paramref name="length"/> octets are filled, the way
    /// Autobahn builds its large payloads (chapter 9, case 7.1.6).
    /// </summary>
    public static byte[] Repeat(ReadOnlySpan<byte> pattern, int length)
    {
        if (pattern.IsEmpty)
        {
            throw new ArgumentException("A repeated payload needs a non-empty pattern.", nameof(pattern));
        }
        var payload = new byte[length];
        for (int offset = 0; offset < length; offset += pattern.Length)
        {
            pattern[..Math.Min(pattern.Length, length - offset)].CopyTo(payload.AsSpan(offset));
        }
        return payload;
    }

    public static int HeaderLength(long payloadLength, bool mask) =>
        2 + (payloadLength <= 125 ? 0 : payloadLength <= 0xFFFF ? 2 : 8) + (mask ? 4 : 0);

    /// <summary>
    /// Writes a frame header into <paramref name="destination"/> and returns its length.
    /// RFC 6455 §5.2: the length uses the minimal encoding (7 bits, then 16, then 64).
    /// </summary>
    public static int WriteHeader(Span<byte> destination, int opcode, long payloadLength, bool fin, int rsv, ReadOnlySpan<byte> maskKey)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xF));
        byte maskBit = maskKey.IsEmpty ? (byte)0 : (byte)0x80;
        int position;
        if (payloadLength <= 125)
        {
            destination[1] = (byte)(maskBit | payloadLength);
            position = 2;
        }
        else if (payloadLength <= 0xFFFF)
        {
            destination[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            position = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
            position = 10;
        }
        if (!maskKey.IsEmpty)
        {
            maskKey.CopyTo(destination[position..]);
            position += 4;
        }
        return position;
    }

    /// <summary>Fills <paramref name="key"/> with a fresh key; RFC 6455 §5.3 asks for an unpredictable one.</summary>
    public static ReadOnlySpan<byte> NewMaskKey(Span<byte> key)
    {
        RandomNumberGenerator.Fill(key);
        return key;
    }

    /// <summary>
    /// XORs <paramref name="data"/> with the key (RFC 6455 §5.3). <paramref name="offset"/> is the
    /// position of <paramref name="data"/> within the frame payload, so a payload can be masked in parts.
    /// </summary>
    public static void ApplyMask(Span<byte> data, ReadOnlySpan<byte> key, long offset)
    {
        int start = (int)(offset & 3);
        int i = 0;
        // Align on the key so the bulk of the payload can be XORed eight octets at a time.
        for (; i < data.Length && ((start + i) & 3) != 0; i++)
        {
            data[i] ^= key[(start + i) & 3];
        }
        uint key32 = BinaryPrimitives.ReadUInt32LittleEndian(key);
        ulong key64 = key32 | ((ulong)key32 << 32);
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data[i..]);
        for (int w = 0; w < words.Length; w++)
        {
            words[w] ^= key64;
        }
        i += words.Length * 8;
        for (; i < data.Length; i++)
        {
            data[i] ^= key[(start + i) & 3];
        }
    }
}
