using System.Buffers;
using System.Text;
using Duplex.Protocol;

namespace Duplex;

/// <summary>
/// A message framed once for sending to many connections (server role): the frame bytes are the same
/// for every recipient because server frames are not masked (RFC 6455 §5.1).
/// </summary>
public sealed class PreparedMessage
{
    private PreparedMessage(ReadOnlyMemory<byte> frame, WebSocketMessageType type, int payloadLength)
    {
        Frame = frame;
        Type = type;
        PayloadLength = payloadLength;
    }

    /// <summary>The whole frame: header and payload.</summary>
    public ReadOnlyMemory<byte> Frame { get; }

    public WebSocketMessageType Type { get; }

    public int PayloadLength { get; }

    public static PreparedMessage Create(ReadOnlySpan<byte> payload, WebSocketMessageType type)
    {
        if (type == WebSocketMessageType.Text && !System.Text.Unicode.Utf8.IsValid(payload))
            throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(payload));
        var writer = new ArrayBufferWriter<byte>(FrameHeader.GetLength(payload.Length, false) + payload.Length);
        FrameWriter.WriteFrame(writer, type == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary, true, 0, payload, null);
        return new PreparedMessage(writer.WrittenMemory, type, payload.Length);
    }

    public static PreparedMessage CreateText(string text) => Create(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);
}
