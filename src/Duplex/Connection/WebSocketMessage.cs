using System.Buffers;
using System.Text;

namespace Duplex;

/// <summary>
/// One received message. Its bytes live in a pooled buffer that is valid until the next message is
/// requested from the connection (as with <see cref="System.IO.Pipelines.PipeReader"/>): read them,
/// or copy them with <see cref="ToArray"/> or <see cref="Text"/>, before asking for the next one.
/// </summary>
public readonly struct WebSocketMessage
{
    private readonly byte[]? _buffer;
    private readonly int _length;

    internal WebSocketMessage(WebSocketMessageType type, byte[]? buffer, int length, bool endOfMessage = true)
    {
        Type = type;
        _buffer = buffer;
        _length = length;
        EndOfMessage = endOfMessage;
    }

    /// <summary>
    /// False for the parts of a large message delivered as it arrives (see
    /// <see cref="WebSocketConnectionOptions.ReceiveChunkSize"/>); true for a whole message or its last part.
    /// </summary>
    public bool EndOfMessage { get; }

    /// <summary>Whether the message is text or binary (the opcode of its first frame).</summary>
    public WebSocketMessageType Type { get; }

    /// <summary>Whether <see cref="Type"/> is <see cref="WebSocketMessageType.Text"/>.</summary>
    public bool IsText => Type == WebSocketMessageType.Text;

    /// <summary>The payload: UTF-8 (already validated) for text, raw bytes for binary.</summary>
    public ReadOnlyMemory<byte> Data => _buffer is null ? ReadOnlyMemory<byte>.Empty : new(_buffer, 0, _length);

    /// <summary>The payload's length in bytes (of this part, for a message delivered in parts).</summary>
    public int Length => _length;

    /// <summary>The payload decoded as a string (allocates). A part of a chunked message may end mid-character.</summary>
    public string Text => _buffer is null ? "" : Encoding.UTF8.GetString(_buffer, 0, _length);

    /// <summary>A copy of the payload that stays valid after the next message is requested.</summary>
    public byte[] ToArray() => Data.ToArray();

    internal void Return()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
    }

    /// <summary>The <see cref="Text"/> of a text message; <c>&lt;binary N bytes&gt;</c> for a binary one.</summary>
    public override string ToString() => IsText ? Text : $"<binary {_length} bytes>";
}
