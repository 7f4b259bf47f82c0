using System.Buffers;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// Compresses outgoing message payloads for permessage-deflate (RFC 7692 §7.2.1), one message after
/// another on one DEFLATE stream. A message may be given whole (<see cref="CompressMessage"/>) or in
/// chunks (<see cref="Write"/>, optionally <see cref="Flush"/>, then <see cref="Finish"/>), e.g. one
/// chunk per frame of a fragmented send. Not thread-safe: one sender at a time, as frames of one
/// message must go out in order anyway.
/// </summary>
public sealed unsafe class MessageDeflater : IDisposable
{
    private static ReadOnlySpan<byte> EmptyStoredBlockTail => [0x00, 0x00, 0xFF, 0xFF];

    // Room for what one flush appends (block end, empty stored block) and more; zlib asks for more
    // than 6 bytes of output space on a flush so it need not repeat the flush marker.
    private const int MinOutputSpace = 64;
    private const int MaxOutputChunk = 64 * 1024;

    private readonly ZStreamHandle _zlib;
    private readonly bool _resetAfterMessage;

    /// <param name="windowBits">The largest window this side agreed to compress with, 8–15.</param>
    /// <param name="noContextTakeover">Whether this side agreed not to refer back into earlier messages.</param>
    /// <param name="compressionLevel">zlib level 0–9.</param>
    public MessageDeflater(int windowBits, bool noContextTakeover, int compressionLevel = 6)
        : this(windowBits, noContextTakeover, compressionLevel, ZlibNative.DefaultMemoryLevel)
    {
    }

    /// <param name="windowBits">The largest window this side agreed to compress with, 8–15.</param>
    /// <param name="noContextTakeover">Whether this side agreed not to refer back into earlier messages.</param>
    /// <param name="compressionLevel">zlib level 0–9.</param>
    /// <param name="memoryLevel">zlib memLevel 1–9: its state takes 1 &lt;&lt; (memoryLevel + 9) bytes beside the window.</param>
    public MessageDeflater(int windowBits, bool noContextTakeover, int compressionLevel, int memoryLevel)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryLevel, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(memoryLevel, 9);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowBits, PerMessageDeflateParameters.MinWindowBits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(windowBits, PerMessageDeflateParameters.MaxWindowBits);
        ArgumentOutOfRangeException.ThrowIfNegative(compressionLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(compressionLevel, 9);
        WindowBits = windowBits;
        _resetAfterMessage = noContextTakeover;
        // zlib (since 1.2.9) and zlib-ng refuse a raw deflate stream with windowBits 8. With 9 they
        // still never emit a match distance beyond the window size minus MIN_LOOKAHEAD (262), i.e.
        // 512 - 262 = 250 < 256, so the stream fits the 256-byte window a peer who agreed on 8
        // decompresses with. Node's zlib binding and other WebSocket stacks map 8 to 9 the same way;
        // a test inflates such a stream with an 8-bit window to pin this.
        _zlib = ZStreamHandle.CreateDeflater(compressionLevel, windowBits == 8 ? 9 : windowBits, memoryLevel);
    }

    /// <summary>The compressor for <paramref name="role"/>'s outgoing messages under the agreed parameters.</summary>
    public static MessageDeflater Create(PerMessageDeflateParameters agreed, WebSocketRole role, int compressionLevel = 6) =>
        new(agreed.SenderWindowBits(role), agreed.SenderResetsContext(role), compressionLevel);

    /// <summary>The agreed window (8–15) this compressor keeps within.</summary>
    public int WindowBits { get; }

    /// <summary>Whether each message is compressed without reference to earlier ones.</summary>
    public bool ResetsContextPerMessage => _resetAfterMessage;

    /// <summary>Compresses one whole message payload into <paramref name="output"/>: the bytes for frames with RSV1 set.</summary>
    public void CompressMessage(ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        Write(payload, output);
        Finish(output);
    }

    /// <summary>
    /// Feeds part of a message. zlib may keep some of it back until more arrives or the message is
    /// flushed or finished, so <paramref name="output"/> can receive fewer bytes, even none.
    /// </summary>
    public void Write(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        ObjectDisposedException.ThrowIf(_zlib.IsClosed, this);
        if (input.IsEmpty) return;
        var stream = _zlib.Stream;
        fixed (byte* inputStart = input)
        {
            stream->NextIn = inputStart;
            stream->AvailIn = (uint)input.Length;
            while (stream->AvailIn > 0)
            {
                var span = output.GetSpan(Math.Clamp((int)stream->AvailIn, MinOutputSpace, MaxOutputChunk));
                int written = Deflate(span, ZlibNative.NoFlush);
                output.Advance(written);
            }
            stream->NextIn = null;
        }
    }

    /// <summary>
    /// Emits everything fed so far in the current message, so a peer can decompress it before the
    /// message ends (e.g. before sending a non-final frame that should not wait for more data).
    /// The bytes end with an empty stored block, which RFC 7692 §7.2.1 allows inside a message.
    /// </summary>
    public void Flush(IBufferWriter<byte> output)
    {
        ObjectDisposedException.ThrowIf(_zlib.IsClosed, this);
        while (true)
        {
            var span = output.GetSpan(MinOutputSpace);
            int written = Deflate(span, ZlibNative.SyncFlush, out bool outputFull);
            output.Advance(written);
            if (!outputFull) return;
        }
    }

    /// <summary>
    /// Ends the message: flushes it to a byte boundary and leaves off the final 00 00 FF FF (RFC 7692
    /// §7.2.1), which the receiver appends again. Without context takeover, the flush also forgets
    /// every earlier string, so the next message refers to nothing before it (§7.1.1).
    /// </summary>
    public void Finish(IBufferWriter<byte> output)
    {
        ObjectDisposedException.ThrowIf(_zlib.IsClosed, this);
        // A full flush is a sync flush that also clears zlib's match-finding state, which makes the
        // next message independent of this one (what no_context_takeover promises) without freeing
        // and reallocating zlib's state per message.
        int flush = _resetAfterMessage ? ZlibNative.FullFlush : ZlibNative.SyncFlush;
        // The last four bytes produced are held back: they are the tail to strip, and an
        // IBufferWriter cannot take back bytes it was given.
        Span<byte> carry = stackalloc byte[4];
        int carried = 0;
        while (true)
        {
            var span = output.GetSpan(MinOutputSpace);
            carry[..carried].CopyTo(span);
            int produced = carried + Deflate(span[carried..], flush, out bool outputFull);
            if (outputFull)
            {
                output.Advance(produced - 4);
                span.Slice(produced - 4, 4).CopyTo(carry);
                carried = 4;
                continue;
            }
            if (produced == 0)
            {
                // zlib declines a second flush with nothing new to compress (an empty message right
                // after another message's end). A single 0x00 is then the whole message: with the
                // tail appended it reads as an empty stored block (RFC 7692 §7.2.3.6). It also
                // correctly ends a message whose last data was already emitted by Flush.
                output.GetSpan(1)[0] = 0x00;
                output.Advance(1);
                return;
            }
            if (produced < 4 || !span.Slice(produced - 4, 4).SequenceEqual(EmptyStoredBlockTail))
                throw new InvalidOperationException("zlib's flush did not end with an empty stored block.");
            output.Advance(produced - 4);
            return;
        }
    }

    private int Deflate(Span<byte> destination, int flush) => Deflate(destination, flush, out _);

    /// <returns>Bytes written into <paramref name="destination"/>.</returns>
    private int Deflate(Span<byte> destination, int flush, out bool outputFull)
    {
        var stream = _zlib.Stream;
        fixed (byte* outputStart = destination)
        {
            stream->NextOut = outputStart;
            stream->AvailOut = (uint)destination.Length;
            int rc = ZlibNative.Deflate(stream, flush);
            int written = destination.Length - (int)stream->AvailOut;
            outputFull = stream->AvailOut == 0;
            stream->NextOut = null;
            // Z_BUF_ERROR only says no progress was possible (nothing left to flush); not a failure.
            if (rc is not (ZlibNative.Ok or ZlibNative.BufferError))
                throw new InvalidOperationException($"zlib deflate failed with {rc}: {ZlibNative.MessageOf(stream)}");
            return written;
        }
    }

    /// <summary>Frees the native zlib state; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _zlib.Dispose();
}
