using System.Buffers;
using System.Text;
using Duplex.Protocol.Deflate;

namespace Duplex.Protocol;

// Output: messages, fragments and control frames framed (masked for a client, compressed when agreed)
// into the caller's buffer writer, and refused where the state forbids them.
public sealed partial class WebSocketProtocol
{
    /// <summary>
    /// Whether a data message may go out: not after our close frame (§5.5.1), nor while a fragmented
    /// message is unfinished (§5.4).
    /// </summary>
    public bool CanSendMessage => !_closeSent && !_sendingFragmented;

    /// <summary>Whether any frame may still go out: none after our close frame (§5.5.1).</summary>
    public bool CanSendControl => !_closeSent;

    /// <summary>Whether a message of <paramref name="length"/> bytes would go out compressed.</summary>
    public bool WillCompress(int length) => Compression is not null && length >= _options.MinMessageSizeToCompress;

    /// <summary>
    /// Writes a whole message as one frame — compressed (RSV1, RFC 7692 §7.2.1) when permessage-deflate
    /// was agreed and it is large enough — and returns the payload's length on the wire.
    /// </summary>
    /// <exception cref="InvalidOperationException">Our close frame is out, or a fragmented message is unfinished.</exception>
    public int WriteMessage(IBufferWriter<byte> output, Opcode opcode, ReadOnlySpan<byte> payload) => WriteMessage(output, opcode, payload, compress: true);

    /// <summary>
    /// As <see cref="WriteMessage(IBufferWriter{byte}, Opcode, ReadOnlySpan{byte})"/>; with
    /// <paramref name="compress"/> false the message goes out as it is, RSV1 clear, even when
    /// permessage-deflate was agreed (RFC 7692 §6: a sender chooses per message). With context takeover
    /// the compression context is left as it was on both sides: an uncompressed message enters neither.
    /// </summary>
    /// <exception cref="InvalidOperationException">Our close frame is out, or a fragmented message is unfinished.</exception>
    public int WriteMessage(IBufferWriter<byte> output, Opcode opcode, ReadOnlySpan<byte> payload, bool compress)
    {
        ArgumentNullException.ThrowIfNull(output);
        EnsureCanSendMessage(opcode);
        if (!compress || !WillCompress(payload.Length))
        {
            FrameWriter.WriteFrame(output, opcode, true, 0, payload, _maskKeys?.Next());
            return payload.Length;
        }
        // RFC 7692 §7.2.1: compress, drop the trailing 00 00 FF FF, set RSV1 on the (only) frame.
        var compressed = _compressedOut ??= new PooledBufferWriter(1024);
        compressed.Clear();
        if (_deflater is not null)
        {
            _deflater.CompressMessage(payload, compressed);
        }
        else
        {
            int level = _options.CompressionLevel;
            var shared = DeflaterPool.Rent(_sharedDeflaterWindowBits, level);
            shared.CompressMessage(payload, compressed); // on failure it is dropped, not returned
            DeflaterPool.Return(shared, level);
        }
        FrameWriter.WriteFrame(output, opcode, true, FrameHeader.Rsv1, compressed.WrittenSpan, _maskKeys?.Next());
        return compressed.WrittenCount;
    }

    /// <summary>
    /// Writes a text message from a string, encoding it straight into <paramref name="output"/> when it
    /// goes out uncompressed and fits one span. Lone surrogates become U+FFFD, so the wire is always
    /// valid UTF-8. Returns the payload's length on the wire.
    /// </summary>
    /// <exception cref="InvalidOperationException">Our close frame is out, or a fragmented message is unfinished.</exception>
    public int WriteText(IBufferWriter<byte> output, string text) => WriteText(output, text, out _);

    /// <summary><see cref="WriteText(IBufferWriter{byte}, string)"/>, also giving the message's UTF-8 length.</summary>
    internal int WriteText(IBufferWriter<byte> output, string text, out int count)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(text);
        count = Encoding.UTF8.GetByteCount(text);
        if (count > DirectEncodeLimit || WillCompress(count))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(count);
            try
            {
                Encoding.UTF8.GetBytes(text, buffer);
                return WriteMessage(output, Opcode.Text, buffer.AsSpan(0, count));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        EnsureCanSendMessage(Opcode.Text);
        uint? key = _maskKeys?.Next();
        int headerLength = FrameHeader.GetLength(count, key.HasValue);
        var span = output.GetSpan(headerLength + count);
        FrameHeader.Write(span, true, 0, Opcode.Text, count, key);
        var body = span.Slice(headerLength, count);
        Encoding.UTF8.GetBytes(text, body);
        if (key is uint k) Masking.Apply(body, k, 0);
        output.Advance(headerLength + count);
        return count;
    }

    // Up to here a text message is encoded in one span of the writer; beyond, through a pooled copy.
    private const int DirectEncodeLimit = 16 * 1024;

    /// <summary>
    /// Writes the next fragment of a message sent in parts (§5.4), uncompressed: the first carries the
    /// type's opcode, the rest are continuations, and <paramref name="endOfMessage"/> ends it. Control
    /// frames may go between fragments; data messages may not.
    /// </summary>
    /// <exception cref="InvalidOperationException">Our close frame is out.</exception>
    public void WriteFragment(IBufferWriter<byte> output, Opcode type, ReadOnlySpan<byte> payload, bool endOfMessage) =>
        WriteFragment(output, type, payload, endOfMessage, compress: false);

    /// <summary>
    /// As <see cref="WriteFragment(IBufferWriter{byte}, Opcode, ReadOnlySpan{byte}, bool)"/>; with
    /// <paramref name="compress"/> on the first fragment and permessage-deflate agreed, the whole message
    /// is compressed (RFC 7692 §7.2.1: RSV1 on the first frame only; each fragment carries what the
    /// deflater emits for it, ended by a sync flush so the peer can inflate it at once; the final one
    /// drops the trailing 00 00 FF FF). Later fragments follow the first's choice.
    /// </summary>
    /// <exception cref="InvalidOperationException">Our close frame is out.</exception>
    public void WriteFragment(IBufferWriter<byte> output, Opcode type, ReadOnlySpan<byte> payload, bool endOfMessage, bool compress)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (type is not (Opcode.Text or Opcode.Binary)) throw new ArgumentOutOfRangeException(nameof(type), type, "A message is text or binary.");
        if (_closeSent) throw new InvalidOperationException("No data frame may follow our close frame (RFC 6455 §5.5.1).");
        bool first = !_sendingFragmented;
        if (first) _fragmentCompressed = compress && Compression is not null;
        var opcode = first ? type : Opcode.Continuation;
        if (!_fragmentCompressed)
        {
            FrameWriter.WriteFrame(output, opcode, endOfMessage, 0, payload, _maskKeys?.Next());
            _sendingFragmented = !endOfMessage;
            return;
        }
        // Without context takeover the shared deflaters serve whole messages; a fragmented one holds
        // its own from the first fragment to the last.
        var deflater = _deflater ?? (_fragmentDeflater ??= DeflaterPool.Rent(_sharedDeflaterWindowBits, _options.CompressionLevel));
        var compressed = _compressedOut ??= new PooledBufferWriter(1024);
        compressed.Clear();
        try
        {
            deflater.Write(payload, compressed);
            if (endOfMessage) deflater.Finish(compressed);
            else deflater.Flush(compressed);
        }
        catch
        {
            _fragmentDeflater?.Dispose();
            _fragmentDeflater = null;
            throw;
        }
        FrameWriter.WriteFrame(output, opcode, endOfMessage, first ? FrameHeader.Rsv1 : (byte)0, compressed.WrittenSpan, _maskKeys?.Next());
        _sendingFragmented = !endOfMessage;
        if (endOfMessage && _fragmentDeflater is not null)
        {
            DeflaterPool.Return(_fragmentDeflater, _options.CompressionLevel);
            _fragmentDeflater = null;
        }
    }

    /// <summary>Writes a ping (§5.5.2); false, with nothing written, once our close frame is out.</summary>
    public bool WritePing(IBufferWriter<byte> output, ReadOnlySpan<byte> payload) => WriteControl(output, Opcode.Ping, payload);

    /// <summary>Writes a pong (§5.5.3), which answers a ping with its payload; false once our close frame is out.</summary>
    public bool WritePong(IBufferWriter<byte> output, ReadOnlySpan<byte> payload) => WriteControl(output, Opcode.Pong, payload);

    /// <summary>
    /// Writes our close frame (§5.5.1) with <paramref name="status"/> (none when null) and a reason cut to
    /// the 123 bytes a close frame holds; false, with nothing written, when ours is already out.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="status"/> may not appear on the wire (1005, 1006, 1015 and unassigned codes, §7.4).</exception>
    public bool WriteClose(IBufferWriter<byte> output, CloseStatus? status, string? reason = null)
    {
        if (status is CloseStatus code && !CloseStatusRules.IsValidOnWire((int)code))
            throw new ArgumentOutOfRangeException(nameof(status), (int)code, "Only 1000–1003, 1007–1014 and 3000–4999 may be sent in a close frame (RFC 6455 §7.4).");
        if (_closeSent) return false;
        Span<byte> payload = stackalloc byte[2 + FrameWriter.MaxCloseReasonBytes];
        int length = status is CloseStatus s ? FrameWriter.WriteClosePayload(payload, s, TruncateReason(reason)) : 0;
        bool written = WriteControl(output, Opcode.Close, payload.Slice(0, length));
        _closeSent = true;
        return written;
    }

    /// <summary>
    /// Answers the peer's close frame with ours, echoing its status code as §5.5.1 suggests (no code
    /// when it sent none); false when ours is already out.
    /// </summary>
    public bool WriteCloseReply(IBufferWriter<byte> output)
    {
        var status = PeerCloseStatus is CloseStatus s && s != CloseStatus.NoStatusReceived ? s : (CloseStatus?)null;
        return WriteClose(output, status);
    }

    /// <summary>
    /// Records that a data message framed elsewhere (a broadcast frame written by reference) went out:
    /// the same rules as <see cref="WriteMessage(IBufferWriter{byte}, Opcode, ReadOnlySpan{byte})"/>.
    /// </summary>
    internal void OnPreframedMessage() => EnsureCanSendMessage(Opcode.Binary);

    /// <summary>
    /// The frame of <paramref name="message"/> for this connection: compressed once for all recipients
    /// that reset their context per message; a recipient whose context carries over between messages
    /// gets the plain frame (RFC 7692 lets a sender choose per message).
    /// </summary>
    internal ReadOnlyMemory<byte> FrameFor(PreparedMessage message) =>
        _deflater is null && Compression is not null && message.Compress && message.PayloadLength >= _options.MinMessageSizeToCompress
            ? message.CompressedFrame(_sharedDeflaterWindowBits, _options.CompressionLevel)
            : message.Frame;

    private bool WriteControl(IBufferWriter<byte> output, Opcode opcode, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (payload.Length > 125) throw new ArgumentException("A control frame carries at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        if (_closeSent) return false;
        FrameWriter.WriteFrame(output, opcode, true, 0, payload, _maskKeys?.Next());
        return true;
    }

    private void EnsureCanSendMessage(Opcode opcode)
    {
        if (opcode is not (Opcode.Text or Opcode.Binary)) throw new ArgumentOutOfRangeException(nameof(opcode), opcode, "A message is text or binary.");
        if (_closeSent) throw new InvalidOperationException("No data frame may follow our close frame (RFC 6455 §5.5.1).");
        if (_sendingFragmented) throw new InvalidOperationException("A fragmented message is unfinished: nothing but control frames may go before its end (RFC 6455 §5.4).");
    }

    /// <summary>Cuts a reason to the 123 bytes a close frame holds, on a character boundary.</summary>
    internal static string? TruncateReason(string? reason)
    {
        if (reason is null || Encoding.UTF8.GetByteCount(reason) <= FrameWriter.MaxCloseReasonBytes) return reason;
        int length = reason.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(reason.AsSpan(0, length)) > FrameWriter.MaxCloseReasonBytes) length--;
        if (length > 0 && char.IsHighSurrogate(reason[length - 1])) length--;
        return reason[..length];
    }
}
