using System.Text;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// One Engine.IO packet: a type and either text or (for messages only) binary data. Immutable, so one
/// instance can be queued to many sessions; the encodings each transport needs are made once and cached.
/// </summary>
public sealed class EnginePacket
{
    private PreparedMessage? _frame;
    private PreparedMessage? _uncompressedFrame;
    private string? _pollingText;
    private int _wireLength = -1;

    private EnginePacket(EnginePacketType type, string? text, byte[]? binary)
    {
        Type = type;
        Text = text;
        Binary = binary;
    }

    /// <summary>The packet type, sent as its digit ahead of <see cref="Text"/>; always <see cref="EnginePacketType.Message"/> for binary data.</summary>
    public EnginePacketType Type { get; }

    /// <summary>The text after the type digit (may be empty); null for a binary message.</summary>
    public string? Text { get; }

    /// <summary>The payload of a binary message; null otherwise.</summary>
    public byte[]? Binary { get; }

    /// <summary>
    /// True for a binary message (<see cref="Binary"/> is set): a binary frame over WebSocket, <c>b</c> + base64
    /// in a polling payload.
    /// </summary>
    public bool IsBinary => Binary is not null;

    /// <summary>
    /// Over WebSocket, the packets queued after this one go out in a later write, a moment after it.
    /// The reference server writes a Socket.IO CONNECT answer on its own and what the connection
    /// handler emits one event-loop turn later; clients that read one packet per network read (the
    /// official protocol test suite does) miss a packet when both arrive together.
    /// </summary>
    internal bool WriteAlone { get; private init; }

    internal static EnginePacket MessageWrittenAlone(string text) => new(EnginePacketType.Message, text, null) { WriteAlone = true };

    internal static EnginePacket MessageWrittenAlone(byte[] data) => new(EnginePacketType.Message, null, data) { WriteAlone = true };

    /// <summary>
    /// A text packet of <paramref name="type"/> with <paramref name="text"/> after the type digit (null is
    /// the same as empty): <c>Create(EnginePacketType.Ping, "probe")</c> is <c>2probe</c>.
    /// </summary>
    public static EnginePacket Create(EnginePacketType type, string? text = null) => new(type, text ?? "", null);

    /// <summary>A text message, <c>4</c> + <paramref name="text"/>: for Socket.IO, the text part of one of its packets.</summary>
    public static EnginePacket Message(string text) => new(EnginePacketType.Message, text, null);

    /// <summary>
    /// A binary message carrying <paramref name="data"/> (for Socket.IO, one attachment). The array is kept,
    /// not copied: do not change it once the packet may be sent.
    /// </summary>
    public static EnginePacket Message(byte[] data) => new(EnginePacketType.Message, null, data);

    internal static readonly EnginePacket PingPacket = Create(EnginePacketType.Ping);
    internal static readonly EnginePacket NoopPacket = Create(EnginePacketType.Noop);
    internal static readonly EnginePacket ClosePacket = Create(EnginePacketType.Close);

    /// <summary>The packet as one item of a polling payload: the type digit and text, or <c>b</c> + base64.</summary>
    public string ToPollingText() => _pollingText ??= Binary is not null
        ? "b" + Convert.ToBase64String(Binary)
        : (char)('0' + (int)Type) + Text;

    /// <summary>
    /// The packet as one WebSocket message, framed once: text packets as a text frame with the type
    /// digit, binary messages as a binary frame of the bare data.
    /// </summary>
    internal PreparedMessage ToFrame() => _frame ??= MakeFrame(compress: true);

    /// <summary>As <see cref="ToFrame()"/>; with <paramref name="compress"/> false, a frame never compressed (RSV1 clear).</summary>
    internal PreparedMessage ToFrame(bool compress) => compress ? ToFrame() : _uncompressedFrame ??= MakeFrame(compress: false);

    private PreparedMessage MakeFrame(bool compress)
    {
        if (Binary is not null) return PreparedMessage.Create(Binary, WebSocketMessageType.Binary, compress);
        // The type digit and the text, encoded into a pooled buffer the frame is copied from.
        int length = 1 + Encoding.UTF8.GetMaxByteCount(Text!.Length);
        byte[]? rented = length > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[512];
        utf8[0] = (byte)('0' + (int)Type);
        int written = 1 + Encoding.UTF8.GetBytes(Text, utf8[1..]);
        try
        {
            return PreparedMessage.Create(utf8[..written], WebSocketMessageType.Text, compress);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The packet's size as one WebSocket message (binary data, or the type digit and the text in UTF-8),
    /// before compression: what a session's buffer limits count. Measured once per packet.
    /// </summary>
    internal int WireLength
    {
        get
        {
            int length = _wireLength;
            if (length < 0) _wireLength = length = Binary?.Length ?? 1 + Encoding.UTF8.GetByteCount(Text!);
            return length;
        }
    }

    /// <summary>
    /// Parses a WebSocket text frame's UTF-8 payload (valid UTF-8, as the WebSocket checked) into a text
    /// packet, decoding the text once; false when it is not a text packet (<c>b</c> + base64 is polling's alone).
    /// </summary>
    internal static bool TryParseUtf8(ReadOnlySpan<byte> utf8, out EnginePacket packet)
    {
        packet = null!;
        if (utf8.IsEmpty) return false;
        int type = utf8[0] - '0';
        if (type < 0 || type > (int)EnginePacketType.Noop) return false;
        packet = new EnginePacket((EnginePacketType)type, utf8.Length == 1 ? "" : Encoding.UTF8.GetString(utf8[1..]), null);
        return true;
    }

    /// <summary>Parses a text packet (a WebSocket text frame, or one item of a polling payload).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out EnginePacket packet)
    {
        packet = null!;
        if (text.IsEmpty) return false;
        if (text[0] == 'b')
        {
            // Only polling payloads carry base64; over WebSocket binary comes as binary frames.
            var bytes = new byte[text.Length * 3 / 4 + 3];
            if (!Convert.TryFromBase64Chars(text[1..], bytes, out int written)) return false;
            packet = Message(bytes.AsSpan(0, written).ToArray());
            return true;
        }
        int type = text[0] - '0';
        if (type < 0 || type > (int)EnginePacketType.Noop) return false;
        packet = new EnginePacket((EnginePacketType)type, text[1..].ToString(), null);
        return true;
    }

    /// <summary>The packet for logs: its type and text, or the size of a binary message.</summary>
    public override string ToString() => Binary is not null ? $"message <{Binary.Length} bytes>" : $"{Type} {Text}";
}
