using System.Buffers.Binary;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Support;

/// <summary>A frame as seen on the wire, already unmasked.</summary>
public sealed record WireFrame(bool Fin, byte Rsv, Opcode Opcode, bool Masked, uint MaskKey, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);

    /// <summary>The close code of a close frame, or null when its payload is empty.</summary>
    public int? CloseCode => Payload.Length >= 2 ? (Payload[0] << 8) | Payload[1] : null;
}

/// <summary>
/// Frame bytes built by hand, independently of <see cref="FrameWriter"/>, so the tests do not check
/// the code against itself.
/// </summary>
public static class Frames
{
    public const uint DefaultKey = 0x5A3C_96E1;

    /// <summary>A client frame: masked with <paramref name="key"/> unless <paramref name="masked"/> is false.</summary>
    public static byte[] Client(Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true, byte rsv = 0, bool masked = true, uint key = DefaultKey) =>
        Build((byte)opcode, payload, fin, rsv, masked, key, payload.Length);

    public static byte[] Client(Opcode opcode, string text, bool fin = true) => Client(opcode, Encoding.UTF8.GetBytes(text), fin);

    /// <summary>An unmasked (server) frame.</summary>
    public static byte[] Server(Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true, byte rsv = 0) =>
        Build((byte)opcode, payload, fin, rsv, masked: false, 0, payload.Length);

    /// <summary>A frame with any opcode nibble (reserved ones too) and optionally a declared length that differs from the payload.</summary>
    public static byte[] Build(byte opcode, ReadOnlySpan<byte> payload, bool fin, byte rsv, bool masked, uint key, long declaredLength)
    {
        var bytes = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0xF)) };
        byte maskBit = masked ? (byte)0x80 : (byte)0;
        if ((ulong)declaredLength < 126)
        {
            bytes.Add((byte)(maskBit | declaredLength));
        }
        else if ((ulong)declaredLength <= 0xFFFF)
        {
            bytes.Add((byte)(maskBit | 126));
            bytes.Add((byte)(declaredLength >> 8));
            bytes.Add((byte)declaredLength);
        }
        else
        {
            bytes.Add((byte)(maskBit | 127));
            for (int shift = 56; shift >= 0; shift -= 8) bytes.Add((byte)((ulong)declaredLength >> shift));
        }
        var keyBytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(keyBytes, key);
        if (masked) bytes.AddRange(keyBytes);
        for (int i = 0; i < payload.Length; i++) bytes.Add(masked ? (byte)(payload[i] ^ keyBytes[i & 3]) : payload[i]);
        return bytes.ToArray();
    }

    public static byte[] ClosePayload(int code, string reason = "")
    {
        var r = Encoding.UTF8.GetBytes(reason);
        var p = new byte[2 + r.Length];
        p[0] = (byte)(code >> 8);
        p[1] = (byte)code;
        r.CopyTo(p, 2);
        return p;
    }

    public static byte[] ClientClose(int code, string reason = "") => Client(Opcode.Close, ClosePayload(code, reason));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>
    /// Parses a stream of frames written by the code under test, independently of <see cref="FrameHeader"/>.
    /// Throws if the stream ends inside a frame: every frame on the wire must be whole.
    /// </summary>
    public static List<WireFrame> ParseAll(ReadOnlySpan<byte> wire)
    {
        var frames = new List<WireFrame>();
        int pos = 0;
        while (pos < wire.Length)
        {
            if (!TryParseOne(wire.Slice(pos), out var frame, out int used))
                throw new InvalidDataException($"the output ends inside a frame at offset {pos} ({wire.Length - pos} bytes left)");
            frames.Add(frame);
            pos += used;
        }
        return frames;
    }

    public static bool TryParseOne(ReadOnlySpan<byte> wire, out WireFrame frame, out int used)
    {
        frame = null!;
        used = 0;
        if (wire.Length < 2) return false;
        bool masked = (wire[1] & 0x80) != 0;
        long length = wire[1] & 0x7F;
        int pos = 2;
        if (length == 126)
        {
            if (wire.Length < 4) return false;
            length = BinaryPrimitives.ReadUInt16BigEndian(wire.Slice(2));
            if (length < 126) throw new InvalidDataException("non-minimal 16-bit length");
            pos = 4;
        }
        else if (length == 127)
        {
            if (wire.Length < 10) return false;
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(wire.Slice(2));
            if (length <= 0xFFFF) throw new InvalidDataException("non-minimal 64-bit length");
            pos = 10;
        }
        uint key = 0;
        if (masked)
        {
            if (wire.Length < pos + 4) return false;
            key = BinaryPrimitives.ReadUInt32LittleEndian(wire.Slice(pos));
            pos += 4;
        }
        if (wire.Length - pos < length) return false;
        var payload = wire.Slice(pos, (int)length).ToArray();
        if (masked)
            for (int i = 0; i < payload.Length; i++) payload[i] ^= (byte)(key >> ((i & 3) * 8));
        frame = new WireFrame((wire[0] & 0x80) != 0, (byte)((wire[0] >> 4) & 7), (Opcode)(wire[0] & 0xF), masked, key, payload);
        used = pos + (int)length;
        return true;
    }
}
