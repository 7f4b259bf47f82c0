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
        return SendStringAsync(text, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendStringAsync(string text, CancellationToken cancellationToken)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            // Small and medium text is encoded straight into the pipe: no intermediate buffer.
            int wire = _protocol.WriteText(_transport.Output, text, out int length);
            if (wire != length) DuplexMetrics.CompressionRatio.Record((double)wire / length);
            await FlushOrDeferAsync(wire, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
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
    /// Sends a message of the given type (text must be valid UTF-8); with <paramref name="compress"/> false
    /// it goes out uncompressed, RSV1 clear, even when permessage-deflate was agreed — for data that is
    /// already compressed, or too small or too random to gain.
    /// </summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, bool compress, CancellationToken cancellationToken = default)
    {
        if (type == WebSocketMessageType.Text && !System.Text.Unicode.Utf8.IsValid(data.Span))
            throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(data));
        return SendFrameAsync(type == WebSocketMessageType.Text ? Opcode.Text : Opcode.Binary, data, cancellationToken, compress);
    }

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
        var frame = _protocol.FrameFor(message);
        int size = frame.Length;
        Interlocked.Add(ref _bufferedBytes, size);
        try
        {
            await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfCannotSend();
                _protocol.OnPreframedMessage();
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
    private async ValueTask SendFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken, bool compress = true)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            int wire = _protocol.WriteMessage(_transport.Output, opcode, payload.Span, compress);
            if (compress && _protocol.WillCompress(payload.Length)) DuplexMetrics.CompressionRatio.Record((double)wire / payload.Length);
            await FlushOrDeferAsync(payload.Length, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

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
    /// <remarks>
    /// On a connection that agreed to permessage-deflate the message is compressed as it goes (each
    /// fragment flushed so the peer can inflate it at once, as ws does); use the overload with
    /// <c>compress: false</c> for data that is already compressed.
    /// </remarks>
    public ValueTask<WebSocketMessageWriter> BeginMessageAsync(WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        BeginMessageAsync(type, compress: true, cancellationToken);

    /// <summary>
    /// As <see cref="BeginMessageAsync(WebSocketMessageType, CancellationToken)"/>; with
    /// <paramref name="compress"/> false the message goes out uncompressed (RSV1 clear) even when
    /// permessage-deflate was agreed.
    /// </summary>
    public async ValueTask<WebSocketMessageWriter> BeginMessageAsync(WebSocketMessageType type, bool compress, CancellationToken cancellationToken = default)
    {
        await _writerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WebSocketMessageWriter(this, type, compress);
    }

    internal async ValueTask WriteFragmentAsync(WebSocketMessageWriter writer, Opcode opcode, ReadOnlyMemory<byte> payload, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The writer gate lets one fragmented message at a time reach the wire (BeginMessageAsync).
            Debug.Assert(_openWriter is null || _openWriter == writer, "another fragmented message is on the wire");
            ThrowIfCannotSend();
            _openWriter = endOfMessage ? null : writer;
            _protocol.WriteFragment(_transport.Output, opcode, payload.Span, endOfMessage, writer.Compress);
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
        if (midMessage && !(!_protocol.CanSendControl || _outputDone || _state >= (int)WebSocketState.Closed)) Abort();
        _writerGate.Release();
    }

    private void ThrowIfCannotSend()
    {
        Debug.Assert(_sendLock.IsHeld, "the protocol's output side and _outputDone are guarded by the send lock");
        if (!_protocol.CanSendControl || _outputDone || _state >= (int)WebSocketState.Closed)
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
    private ValueTask AnswerPingAsync(CancellationToken token) =>
        SendControlAsync(ControlFrame.Pong, _protocol.ControlPayloadMemory, null, null, token);

    // PongNow: a pong the application sends (SendPongAsync), flushed at once; Pong: the read loop's answer.
    private enum ControlFrame { Ping, Pong, PongNow, Close, CloseReply }

    /// <summary>
    /// Under the send lock, after writing a pong: leaves it for the read loop's flush at the end of the
    /// bytes it is handling (<see cref="FlushBatchAsync"/>; automatic pongs come only from the read loop,
    /// while <see cref="SendPongAsync"/> flushes at once), so
    /// a burst of pings read together is answered in one write instead of one each. False past
    /// <see cref="MaxDeferredBytes"/>: that pong flushes now and the read loop waits for it, so a peer
    /// that pings flat out and never reads stops being read (TCP pushes back) with at most that much queued.
    /// </summary>
    private bool DeferPong(int payloadLength)
    {
        Debug.Assert(_sendLock.IsHeld, "deferred-flush state is guarded by the send lock");
        int bytes = 2 + payloadLength + (_protocol.Role == WebSocketRole.Client ? 4 : 0);
        if (_deferredBytes + bytes > MaxDeferredBytes) return false;
        Interlocked.Add(ref _bufferedBytes, bytes);
        _deferredBytes += bytes;
        _flushDeferred = true;
        return true;
    }

    /// <summary>
    /// Writes one control frame under the send lock; it may go between the frames of a fragmented
    /// message (RFC 6455 §5.4). Nothing goes out after our close frame (§5.5.1): the protocol then
    /// skips pongs and a second close, and a ping fails as any send would.
    /// </summary>
    private async ValueTask SendControlAsync(ControlFrame kind, ReadOnlyMemory<byte> payload, CloseStatus? status, string? reason, CancellationToken token)
    {
        await _sendLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (kind == ControlFrame.Ping) ThrowIfCannotSend();
            else if (_outputDone) return;
            var output = _transport.Output;
            bool written = kind switch
            {
                ControlFrame.Ping => _protocol.WritePing(output, payload.Span),
                ControlFrame.Pong or ControlFrame.PongNow => _protocol.WritePong(output, payload.Span),
                ControlFrame.Close => _protocol.WriteClose(output, status, reason),
                _ => _protocol.WriteCloseReply(output),
            };
            if (!written) return;
            if (kind == ControlFrame.Ping) await FlushAsync(token).ConfigureAwait(false);
            else if (kind != ControlFrame.Pong || !DeferPong(payload.Length)) await FlushCoreAsync(token).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }
}
