namespace Duplex.Protocol;

/// <summary>A decoded frame header (RFC 6455 §5.2).</summary>
public readonly record struct FrameHeader(
    bool Fin,
    byte Rsv,
    Opcode Opcode,
    bool Masked,
    uint MaskKey,
    long PayloadLength,
    int HeaderLength)
{
    /// <summary>RSV1 as a bit of <see cref="Rsv"/>: permessage-deflate's "compressed" flag (RFC 7692 §6).</summary>
    public const byte Rsv1 = 0x4;
    /// <summary>RSV2 as a bit of <see cref="Rsv"/>; no extension Duplex negotiates uses it.</summary>
    public const byte Rsv2 = 0x2;
    /// <summary>RSV3 as a bit of <see cref="Rsv"/>; no extension Duplex negotiates uses it.</summary>
    public const byte Rsv3 = 0x1;

    /// <summary>The largest header: 2 bytes + 8-byte length + 4-byte mask key.</summary>
    public const int MaxLength = 14;

    /// <summary>
    /// Parses a header from the start of <paramref name="buffer"/> without judging it. Returns false
    /// when more bytes are needed.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out FrameHeader header)
    {
        header = default;
        if (buffer.Length < 2) return false;
        byte b0 = buffer[0];
        byte b1 = buffer[1];
        bool masked = (b1 & 0x80) != 0;
        int lengthCode = b1 & 0x7F;
        int needed = 2 + (lengthCode == 126 ? 2 : lengthCode == 127 ? 8 : 0) + (masked ? 4 : 0);
        if (buffer.Length < needed) return false;

        long length = lengthCode;
        int pos = 2;
        if (lengthCode == 126)
        {
            length = (buffer[2] << 8) | buffer[3];
            pos = 4;
        }
        else if (lengthCode == 127)
        {
            // Read as unsigned; a set top bit shows up as a negative length, which the reader rejects.
            length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(buffer.Slice(2, 8));
            pos = 10;
        }
        uint key = 0;
        if (masked)
        {
            key = Masking.ReadKey(buffer.Slice(pos, 4));
            pos += 4;
        }
        header = new FrameHeader((b0 & 0x80) != 0, (byte)((b0 >> 4) & 0x7), (Opcode)(b0 & 0xF), masked, key, length, pos);
        return true;
    }

    /// <summary>Header size for a payload of this length.</summary>
    public static int GetLength(long payloadLength, bool masked) =>
        (payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10) + (masked ? 4 : 0);

    /// <summary>
    /// Writes a header; uses the shortest length encoding, as RFC 6455 §5.2 requires ("the minimal
    /// number of bytes MUST be used"). Returns the number of bytes written.
    /// </summary>
    public static int Write(Span<byte> destination, bool fin, byte rsv, Opcode opcode, long payloadLength, uint? maskKey)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | (rsv << 4) | (byte)opcode);
        byte maskBit = maskKey.HasValue ? (byte)0x80 : (byte)0;
        int pos;
        if (payloadLength < 126)
        {
            destination[1] = (byte)(maskBit | payloadLength);
            pos = 2;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = (byte)(maskBit | 126);
            destination[2] = (byte)(payloadLength >> 8);
            destination[3] = (byte)payloadLength;
            pos = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(2), (ulong)payloadLength);
            pos = 10;
        }
        if (maskKey is uint key)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(pos), key);
            pos += 4;
        }
        return pos;
    }
}
