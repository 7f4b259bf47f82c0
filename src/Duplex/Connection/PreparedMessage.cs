using Duplex.Protocol.Deflate;
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
    private PreparedMessage(ReadOnlyMemory<byte> frame, WebSocketMessageType type, int payloadLength, bool compress)
    {
        Frame = frame;
        Type = type;
        PayloadLength = payloadLength;
        Compress = compress;
    }

    // permessage-deflate frames, made on first need, per (window bits, level): every recipient that
    // agreed to no context takeover on the server side decodes the same compressed bytes.
    private (int WindowBits, int Level, ReadOnlyMemory<byte> Frame)[]? _compressed;

    /// <summary>The payload as sent in <see cref="Frame"/>.</summary>
    public ReadOnlyMemory<byte> Payload => Frame[^PayloadLength..];

    /// <summary>
    /// The message compressed once for every recipient whose server side resets its context per
    /// message (RFC 7692 §7.1.1.1), as one frame with RSV1 set; each (window, level) is compressed once.
    /// </summary>
    internal ReadOnlyMemory<byte> CompressedFrame(int windowBits, int level)
    {
        while (true)
        {
            var known = Volatile.Read(ref _compressed);
            if (known is not null)
                foreach (var (w, l, frame) in known)
                    if (w == windowBits && l == level) return frame;
            var made = MakeCompressedFrame(windowBits, level);
            // Two senders may race to make the same frame: either copy is right, and the first one stays.
            if (Interlocked.CompareExchange(ref _compressed, [.. known ?? [], (windowBits, level, made)], known) == known) return made;
        }
    }

    private ReadOnlyMemory<byte> MakeCompressedFrame(int windowBits, int level)
    {
        var compressed = new ArrayBufferWriter<byte>(PayloadLength / 2 + 64);
        var deflater = DeflaterPool.Rent(windowBits, level);
        deflater.CompressMessage(Payload.Span, compressed); // on failure it is dropped, not returned
        DeflaterPool.Return(deflater, level);
        var writer = new ArrayBufferWriter<byte>(FrameHeader.GetLength(compressed.WrittenCount, false) + compressed.WrittenCount);
        FrameWriter.WriteFrame(writer, Type == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary, true, FrameHeader.Rsv1, compressed.WrittenSpan, null);
        return writer.WrittenMemory;
    }

    /// <summary>The whole frame: header and payload.</summary>
    public ReadOnlyMemory<byte> Frame { get; }

    /// <summary>Whether the message is text or binary.</summary>
    public WebSocketMessageType Type { get; }

    /// <summary>The payload's length in bytes, before any compression.</summary>
    public int PayloadLength { get; }

    /// <summary>
    /// Whether the message may go out compressed where permessage-deflate was agreed (true unless made
    /// with <c>compress: false</c>); when false every recipient gets <see cref="Frame"/>, RSV1 clear.
    /// </summary>
    public bool Compress { get; }

    /// <summary>
    /// Frames <paramref name="payload"/> (copied) as one unmasked, final frame of <paramref name="type"/>.
    /// Throws <see cref="ArgumentException"/> when a text payload is not valid UTF-8 (RFC 6455 §5.6).
    /// </summary>
    public static PreparedMessage Create(ReadOnlySpan<byte> payload, WebSocketMessageType type) => Create(payload, type, compress: true);

    /// <summary>
    /// As <see cref="Create(ReadOnlySpan{byte}, WebSocketMessageType)"/>; with <paramref name="compress"/>
    /// false the message is never compressed, even for recipients that agreed to permessage-deflate.
    /// </summary>
    public static PreparedMessage Create(ReadOnlySpan<byte> payload, WebSocketMessageType type, bool compress)
    {
        if (type == WebSocketMessageType.Text && !System.Text.Unicode.Utf8.IsValid(payload))
            throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(payload));
        // One array of the frame's exact size: the header, then the payload (unmasked).
        var frame = new byte[FrameHeader.GetLength(payload.Length, false) + payload.Length];
        int header = FrameHeader.Write(frame, true, 0, type == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary, payload.Length, null);
        payload.CopyTo(frame.AsSpan(header));
        return new PreparedMessage(frame, type, payload.Length, compress);
    }

    /// <summary>Frames <paramref name="text"/> as a text message, encoded as UTF-8 (lone surrogates become U+FFFD).</summary>
    public static PreparedMessage CreateText(string text) => Create(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);
}
