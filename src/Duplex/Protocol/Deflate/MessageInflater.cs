using System.Buffers;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// Decompresses incoming permessage-deflate messages (RFC 7692 §7.2.2), one after another on one
/// DEFLATE stream. A message arrives as one or more chunks (frame payloads, or parts of them); the
/// last chunk is marked, and the inflater then appends the 00 00 FF FF the sender stripped. Output is
/// bounded per message: it stops one byte past the caller's limit at most, whatever the input says,
/// so a small payload cannot make it produce or allocate more (a decompression bomb). Not
/// thread-safe: one receiving loop drives it.
/// </summary>
public sealed unsafe class MessageInflater : IDisposable
{
    private static ReadOnlySpan<byte> EmptyStoredBlockTail => [0x00, 0x00, 0xFF, 0xFF];

    private const int MinOutputChunk = 256;
    private const int MaxOutputChunk = 64 * 1024;

    private readonly ZStreamHandle _zlib;
    private readonly bool _resetAfterMessage;
    private readonly int _zlibWindowBits;
    private int _tailFed;
    private bool _streamEnded;
    private bool _faulted;

    /// <param name="windowBits">The largest window the peer agreed to compress with, 8–15.</param>
    /// <param name="noContextTakeover">Whether the peer agreed not to refer back into earlier messages.</param>
    public MessageInflater(int windowBits, bool noContextTakeover)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowBits, PerMessageDeflateParameters.MinWindowBits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(windowBits, PerMessageDeflateParameters.MaxWindowBits);
        WindowBits = windowBits;
        _resetAfterMessage = noContextTakeover;
        _zlibWindowBits = windowBits;
        _zlib = ZStreamHandle.CreateInflater(windowBits);
    }

    /// <summary>The decompressor for what <paramref name="role"/>'s peer sends under the agreed parameters.</summary>
    public static MessageInflater Create(PerMessageDeflateParameters agreed, WebSocketRole role) =>
        new(agreed.ReceiverWindowBits(role), agreed.ReceiverResetsContext(role));

    /// <summary>The window (8–15) the peer may use, which this inflater keeps.</summary>
    public int WindowBits { get; }

    /// <summary>Decompressed bytes of the message in progress so far.</summary>
    public long MessageBytesWritten { get; private set; }

    /// <summary>zlib's explanation of the last <see cref="InflateStatus.InvalidData"/>.</summary>
    public string? ErrorMessage { get; private set; }

    /// <summary>
    /// Decompresses a chunk of a message into <paramref name="output"/>, failing with
    /// <see cref="InflateStatus.MessageTooBig"/> as soon as the message's decompressed size would pass
    /// <paramref name="maxMessageSize"/>; <paramref name="output"/> is never asked for room past that size. Returns <see cref="InflateStatus.Done"/>,
    /// <see cref="InflateStatus.MessageTooBig"/> (1009) or <see cref="InflateStatus.InvalidData"/>
    /// (1007), with <paramref name="error"/> saying which close to send; after a failure the inflater
    /// is unusable, as the connection is failing.
    /// </summary>
    public InflateStatus Inflate(ReadOnlySpan<byte> source, bool endOfMessage, long maxMessageSize, IBufferWriter<byte> output, out ProtocolError error)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxMessageSize);
        error = default;
        Span<byte> probe = stackalloc byte[1];
        while (true)
        {
            // The output takes the message up to the limit; at the limit, one byte more into a probe of our
            // own tells "exactly at the limit" from "over it". So a writer sized to the limit never grows past
            // it (a pooled one asked for that one byte would rent the next power of two: twice the limit).
            long room = maxMessageSize - MessageBytesWritten;
            scoped Span<byte> span;
            if (room <= 0) span = probe;
            else
            {
                int hint = (int)Math.Min(Math.Clamp(source.Length * 4L, MinOutputChunk, MaxOutputChunk), room);
                span = output.GetSpan(hint);
                if (span.Length > room) span = span[..(int)room];
            }
            long before = MessageBytesWritten;
            var status = Inflate(source, span, endOfMessage, out int consumed, out int written);
            source = source[consumed..];
            // Checked on the sum, not MessageBytesWritten, which a completed message has reset.
            if (before + written > maxMessageSize)
            {
                _faulted = true;
                error = new(CloseStatus.MessageTooBig, $"decompressed message exceeds {maxMessageSize} bytes");
                return InflateStatus.MessageTooBig;
            }
            if (room > 0) output.Advance(written); // else nothing came out: the probe stayed empty
            switch (status)
            {
                case InflateStatus.Done:
                    return status;
                case InflateStatus.DestinationTooSmall when written == 0 && consumed == 0:
                    throw new InvalidOperationException("zlib made no progress with room to write.");
                case InflateStatus.InvalidData:
                    // RFC 7692 leaves the close code open. 1007 (RFC 6455 §7.4.1: data inconsistent
                    // with the message's type) names the fault, bad payload rather than bad framing,
                    // and is what Node's ws (8.x, permessage-deflate.js) sends when inflating fails.
                    error = new(CloseStatus.InvalidPayloadData, $"compressed payload is invalid: {ErrorMessage}");
                    return status;
            }
        }
    }

    /// <summary>
    /// Decompresses as much of a chunk as fits into <paramref name="destination"/>. On
    /// <see cref="InflateStatus.DestinationTooSmall"/> call again with
    /// <c>source[bytesConsumed..]</c> (empty once all was taken) and the same
    /// <paramref name="endOfMessage"/>; at the end of a message that is how the remaining output is
    /// drained. The caller enforces its size limit with <see cref="MessageBytesWritten"/>.
    /// </summary>
    public InflateStatus Inflate(ReadOnlySpan<byte> source, Span<byte> destination, bool endOfMessage, out int bytesConsumed, out int bytesWritten)
    {
        ObjectDisposedException.ThrowIf(_zlib.IsClosed, this);
        if (_faulted) throw new InvalidOperationException("The inflater failed on an earlier message and cannot continue.");
        if (destination.IsEmpty) throw new ArgumentException("The destination must have room for output.", nameof(destination));
        bytesConsumed = 0;
        bytesWritten = 0;
        var stream = _zlib.Stream;
        fixed (byte* outputStart = destination)
        {
            stream->NextOut = outputStart;
            stream->AvailOut = (uint)destination.Length;
            try
            {
                if (_streamEnded)
                {
                    // A final block (BFINAL=1) ended the DEFLATE stream inside this message; RFC 7692
                    // §7.2.3.4 lets a sender do that, and whatever follows it in the message is not ours to read.
                    bytesConsumed = source.Length;
                }
                else if (!source.IsEmpty)
                {
                    fixed (byte* inputStart = source)
                    {
                        var status = Run(inputStart, source.Length, out bytesConsumed);
                        if (status is not null) return Written(status.Value, destination, out bytesWritten);
                    }
                    if (_streamEnded) bytesConsumed = source.Length;
                    else if (bytesConsumed < source.Length) return Written(InflateStatus.DestinationTooSmall, destination, out bytesWritten);
                }
                if (!endOfMessage) return Written(InflateStatus.Done, destination, out bytesWritten);

                if (!_streamEnded)
                {
                    // RFC 7692 §7.2.2: append 00 00 FF FF to the message's payload, then decompress.
                    fixed (byte* tail = EmptyStoredBlockTail)
                    {
                        var status = Run(tail + _tailFed, EmptyStoredBlockTail.Length - _tailFed, out int tailConsumed);
                        _tailFed += tailConsumed;
                        if (status is not null) return Written(status.Value, destination, out bytesWritten);
                    }
                    // With no room left there may be output still inside zlib; only a call that
                    // leaves room over proves it has all come out.
                    if (stream->AvailOut == 0) return Written(InflateStatus.DestinationTooSmall, destination, out bytesWritten);
                }
                var done = Written(InflateStatus.Done, destination, out bytesWritten);
                EndMessage();
                return done;
            }
            finally
            {
                stream->NextOut = null;
                stream->NextIn = null;
            }
        }
    }

    /// <summary>Runs zlib over <paramref name="count"/> input bytes; returns a status only to stop early.</summary>
    private InflateStatus? Run(byte* input, int count, out int consumed)
    {
        var stream = _zlib.Stream;
        stream->NextIn = input;
        stream->AvailIn = (uint)count;
        int rc = ZlibNative.Inflate(stream, ZlibNative.NoFlush);
        consumed = count - (int)stream->AvailIn;
        switch (rc)
        {
            case ZlibNative.Ok:
            case ZlibNative.BufferError: // no progress possible: nothing to decode or no room; not a failure
                return null;
            case ZlibNative.StreamEnd:
                _streamEnded = true;
                return null;
            case ZlibNative.DataError:
            case ZlibNative.NeedDictionary: // raw DEFLATE has no dictionary id; zlib should never ask
            case ZlibNative.StreamError:
                ErrorMessage = ZlibNative.MessageOf(stream) ?? $"zlib inflate returned {rc}";
                _faulted = true;
                return InflateStatus.InvalidData;
            case ZlibNative.MemoryError:
                throw new OutOfMemoryException("zlib inflate could not allocate its window.");
            default:
                throw new InvalidOperationException($"zlib inflate returned {rc}.");
        }
    }

    private InflateStatus Written(InflateStatus status, Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = destination.Length - (int)_zlib.Stream->AvailOut;
        MessageBytesWritten += bytesWritten;
        return status;
    }

    private void EndMessage()
    {
        // Without context takeover the peer never refers back, so the window can go; resetting also
        // makes a peer that refers back anyway fail loudly instead of being understood by luck.
        // After a final block (RFC 7692 §7.2.3.4) zlib takes nothing more until reset, and the reset
        // empties the window: a sender that ends messages with BFINAL=1 starts its next DEFLATE
        // stream afresh too, unless it primes it with a dictionary, which we cannot follow.
        if (_resetAfterMessage || _streamEnded)
        {
            int rc = ZlibNative.InflateReset2(_zlib.Stream, -_zlibWindowBits);
            if (rc != ZlibNative.Ok) throw new InvalidOperationException($"zlib inflateReset2 returned {rc}.");
        }
        _tailFed = 0;
        _streamEnded = false;
        MessageBytesWritten = 0;
    }

    /// <summary>Frees the native zlib state; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _zlib.Dispose();
}
