using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex;

// Sending: messages, fragments, broadcasts and control frames; the send lock and flush batching.
public sealed partial class WebSocketConnection
{
    /// <summary>Sends a text message. Lone surrogates become U+FFFD, so the wire is always valid UTF-8.</summary>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        int count = Encoding.UTF8.GetByteCount(text);
        if (count <= StackEncodeLimit && !WillCompress(count))
        {
            return SendEncodedTextAsync(text, count, cancellationToken);
        }
        return SendPooledTextAsync(text, count, cancellationToken);
    }

    private const int StackEncodeLimit = 16 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendEncodedTextAsync(string text, int count, CancellationToken cancellationToken)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            // Encode straight into the pipe: no intermediate buffer for small and medium messages.
            var output = _transport.Output;
            uint? key = _maskKeys?.Next();
            int headerLength = FrameHeader.GetLength(count, key.HasValue);
            var span = output.GetSpan(headerLength + count);
            FrameHeader.Write(span, true, 0, Opcode.Text, count, key);
            var body = span.Slice(headerLength, count);
            Encoding.UTF8.GetBytes(text, body);
            if (key is uint k) Masking.Apply(body, k, 0);
            output.Advance(headerLength + count);
            await FlushOrDeferAsync(headerLength + count, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async ValueTask SendPooledTextAsync(string text, int count, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(count);
        try
        {
            Encoding.UTF8.GetBytes(text, buffer);
            await SendFrameAsync(Opcode.Text, buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends a text message from UTF-8 bytes, which must be valid UTF-8 (checked).</summary>
    public ValueTask SendTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken = default)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8.Span))
            throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(utf8));
        return SendFrameAsync(Opcode.Text, utf8, cancellationToken);
    }

    /// <summary>
    /// Sends a binary message, compressed when permessage-deflate was agreed and it has at least
    /// <see cref="Protocol.Deflate.PerMessageDeflateOptions.MinMessageSizeToCompress"/> bytes. Throws
    /// <see cref="WebSocketClosedException"/> once this side's close frame has gone out or the connection is over.
    /// </summary>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendFrameAsync(Opcode.Binary, data, cancellationToken);

    /// <summary>Sends a message of the given type; text must be valid UTF-8.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        type == WebSocketMessageType.Text ? SendTextAsync(data, cancellationToken) : SendBinaryAsync(data, cancellationToken);

    /// <summary>
    /// Sends a received message on (an echo, a relay), same type. Its text was validated when it
    /// arrived, so it is not validated again.
    /// </summary>
    public ValueTask SendAsync(in WebSocketMessage message, CancellationToken cancellationToken = default) =>
        SendFrameAsync(message.IsText ? Opcode.Text : Opcode.Binary, message.Data, cancellationToken);

    /// <summary>
    /// Sends a message encoded once for many connections (server role only: server frames are not
    /// masked, so the same bytes serve every recipient).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(PreparedMessage message, CancellationToken cancellationToken = default)
    {
        if (Role != WebSocketRole.Server) throw new InvalidOperationException("Prepared messages are unmasked frames: only a server may send them.");
        // Compressed once for all recipients that reset context per message; a recipient whose
        // context carries over between messages gets the plain frame (RFC 7692 lets a sender choose).
        var frame = _deflater is null && Compression is not null && message.PayloadLength >= _options.Compression.MinMessageSizeToCompress
            ? message.CompressedFrame(_sharedDeflaterWindowBits, _options.Compression.CompressionLevel)
            : message.Frame;
        int size = frame.Length;
        Interlocked.Add(ref _bufferedBytes, size);
        try
        {
            await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfCannotSend();
                // The frame is immutable and shared by every recipient: a transport that can sends it from there.
                if (_transport.Output is IReferenceWriter byReference) byReference.WriteByReference(frame);
                else _transport.Output.Write(frame.Span);
                await FlushOrDeferAsync(size, cancellationToken).ConfigureAwait(false);
                DuplexMetrics.MessagesSent.Add(1);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        finally
        {
            Interlocked.Add(ref _bufferedBytes, -size);
        }
    }

    /// <summary>
    /// Bytes accepted for sending (by broadcasts, which do not wait) and not yet written to the
    /// socket. A peer that stops reading makes this grow until <see cref="WebSocketConnectionOptions.MaxBufferedBytes"/>.
    /// </summary>
    public long BufferedAmount => Volatile.Read(ref _bufferedBytes);

    /// <summary>
    /// For broadcasts: sends without waiting when this connection keeps up; otherwise applies its
    /// <see cref="WebSocketConnectionOptions.SlowConsumerPolicy"/> and returns false. The returned task
    /// (when not null) completes when the message reaches the socket.
    /// </summary>
    public bool TrySendWithoutWaiting(PreparedMessage message, out ValueTask send)
    {
        send = default;
        if (_state != (int)WebSocketState.Open) return false;
        if (BufferedAmount + message.Frame.Length > _options.MaxBufferedBytes)
        {
            DuplexMetrics.SlowConsumers.Add(1, new KeyValuePair<string, object?>("policy", _options.SlowConsumerPolicy.ToString()));
            if (_options.SlowConsumerPolicy == SlowConsumerPolicy.Close && Interlocked.Exchange(ref _slowClosed, 1) == 0)
            {
                _logger.LogInformation(DuplexLogEvents.SlowConsumer, "WebSocket {Id}: {Buffered} bytes waiting for a peer that does not read; closing with 1013", Id, BufferedAmount);
                _ = CloseAsync(Protocol.CloseStatus.TryAgainLater, "too slow");
            }
            return false;
        }
        send = SendAsync(message);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            if (WillCompress(payload.Length))
            {
                // RFC 7692 §7.2.1: compress, drop the trailing 00 00 FF FF, set RSV1 on the (only) frame.
                _compressedOut!.Clear();
                if (_deflater is not null)
                {
                    _deflater.CompressMessage(payload.Span, _compressedOut);
                }
                else
                {
                    int level = _options.Compression.CompressionLevel;
                    var shared = DeflaterPool.Rent(_sharedDeflaterWindowBits, level);
                    shared.CompressMessage(payload.Span, _compressedOut); // on failure it is dropped, not returned
                    DeflaterPool.Return(shared, level);
                }
                DuplexMetrics.CompressionRatio.Record((double)_compressedOut.WrittenCount / payload.Length);
                FrameWriter.WriteFrame(_transport.Output, opcode, true, FrameHeader.Rsv1, _compressedOut.WrittenSpan, _maskKeys?.Next());
            }
            else
            {
                FrameWriter.WriteFrame(_transport.Output, opcode, true, 0, payload.Span, _maskKeys?.Next());
            }
            await FlushOrDeferAsync(payload.Length, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private bool WillCompress(int length) => Compression is not null && length >= _options.Compression.MinMessageSizeToCompress;

    /// <summary>
    /// Takes the send lock for a data message. RFC 6455 §5.4: the frames of a fragmented message may
    /// only be interleaved with control frames, so while one is on the wire other messages wait.
    /// </summary>
    private ValueTask AcquireForMessageAsync(CancellationToken cancellationToken)
    {
        var wait = _sendLock.WaitAsync(cancellationToken);
        if (wait.IsCompletedSuccessfully && _openWriter is null) return ValueTask.CompletedTask;
        return AcquireSlowAsync(wait, cancellationToken);
    }

    private async ValueTask AcquireSlowAsync(Task wait, CancellationToken cancellationToken)
    {
        await wait.ConfigureAwait(false);
        while (_openWriter is not null)
        {
            _sendLock.Release();
            await _writerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            _writerGate.Release();
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts a message sent in fragments (RFC 6455 §5.4), for data produced over time or too large to
    /// hold: write its parts, then complete it. Other messages wait until it is complete; pings, pongs
    /// and close frames may go between its fragments.
    /// </summary>
    public async ValueTask<WebSocketMessageWriter> BeginMessageAsync(WebSocketMessageType type, CancellationToken cancellationToken = default)
    {
        await _writerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WebSocketMessageWriter(this, type);
    }

    internal async ValueTask WriteFragmentAsync(WebSocketMessageWriter writer, Opcode opcode, ReadOnlyMemory<byte> payload, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            _openWriter = endOfMessage ? null : writer;
            FrameWriter.WriteFrame(_transport.Output, opcode, endOfMessage, 0, payload.Span, _maskKeys?.Next());
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            if (endOfMessage) DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    internal void EndMessage()
    {
        _writerGate.Release();
    }

    /// <summary>
    /// A fragmented message that will never be finished (a fragment failed, or the writer was disposed
    /// with text that cannot end). RFC 6455 §5.4: once a non-final fragment is out, no other data frame
    /// may follow until its message ends, so a connection left mid-message can carry nothing more and is
    /// aborted. Senders waiting for the message then find the connection closed instead of waiting (or,
    /// as they once did, spinning) for a message that never ends. No fragment on the wire yet, or our
    /// close frame already out: nothing is aborted.
    /// </summary>
    internal void AbandonMessage(WebSocketMessageWriter writer)
    {
        // Outside the send lock, but only this writer ever sets _openWriter to itself, and it is not
        // writing; readers of the field hold the send lock and see either value safely.
        // Once our close frame is out no data frame follows anyway: the close handshake goes on.
        bool midMessage = Interlocked.CompareExchange(ref _openWriter, null, writer) == writer;
        if (midMessage && !(_closeSent || _outputDone || _state >= (int)WebSocketState.Closed)) Abort();
        _writerGate.Release();
    }

    private void ThrowIfCannotSend()
    {
        Debug.Assert(_sendLock.IsHeld, "_closeSent and _outputDone are guarded by the send lock");
        if (_closeSent || _outputDone || _state >= (int)WebSocketState.Closed)
            throw new WebSocketClosedException(State, _closeStatus, _closeDescription);
    }

    /// <summary>Flushes what was written; throws when the connection ended under the write.</summary>
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var result = await FlushCoreAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
            throw new WebSocketClosedException(State, _closeStatus, _closeDescription);
    }

    /// <summary>Flushes the pipe (under the send lock), settling the bytes that waited for a deferred flush.</summary>
    private ValueTask<FlushResult> FlushCoreAsync(CancellationToken cancellationToken)
    {
        Debug.Assert(_sendLock.IsHeld, "deferred-flush state is guarded by the send lock");
        _flushDeferred = false;
        int deferred = _deferredBytes;
        _deferredBytes = 0;
        if (deferred > 0)
        {
            var flush = FlushPipeAsync(cancellationToken);
            if (!flush.IsCompleted) return SettleAsync(flush, deferred);
            Interlocked.Add(ref _bufferedBytes, -deferred);
            return flush;
        }
        return FlushPipeAsync(cancellationToken);
    }

    private async ValueTask<FlushResult> SettleAsync(ValueTask<FlushResult> flush, int deferred)
    {
        try
        {
            return await flush.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _bufferedBytes, -deferred);
        }
    }

    private ValueTask<FlushResult> FlushPipeAsync(CancellationToken cancellationToken)
    {
        if (_transport.Output.CanGetUnflushedBytes) DuplexMetrics.BytesSent.Add(_transport.Output.UnflushedBytes);
        return _transport.Output.FlushAsync(cancellationToken);
    }

    // RFC 6455 §5.5.2: answer a ping with a pong carrying the same data.
    private ValueTask SendPongAsync(CancellationToken token) =>
        SendControlFrameAsync(Opcode.Pong, _controlBuffer.AsMemory(0, (int)_frameReader.Current.PayloadLength), token);

    private ValueTask SendCloseFrameAsync(CloseStatus? status, string? reason, CancellationToken token)
    {
        var payload = new byte[status is null ? 0 : 2 + FrameWriter.MaxCloseReasonBytes];
        int length = status is CloseStatus s ? FrameWriter.WriteClosePayload(payload, s, TruncateReason(reason)) : 0;
        return SendControlFrameAsync(Opcode.Close, payload.AsMemory(0, length), token);
    }

    /// <summary>
    /// Writes one control frame under the send lock; it may go between the frames of a fragmented
    /// message (RFC 6455 §5.4). Nothing goes out after our close frame (§5.5.1): pongs and a second
    /// close are then skipped, and a ping fails as any send would.
    /// </summary>
    private async ValueTask SendControlFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken token)
    {
        await _sendLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (opcode == Opcode.Ping) ThrowIfCannotSend();
            else if (_closeSent || _outputDone) return;
            if (opcode == Opcode.Close) _closeSent = true;
            FrameWriter.WriteFrame(_transport.Output, opcode, true, 0, payload.Span, _maskKeys?.Next());
            if (opcode == Opcode.Ping) await FlushAsync(token).ConfigureAwait(false);
            else await FlushCoreAsync(token).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
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
