using System.Buffers;
using System.Diagnostics;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Microsoft.Extensions.Logging;

namespace Duplex;

// The read loop: frames in, messages delivered to the application, pings answered, limits applied.
public sealed partial class WebSocketConnection
{
    /// <summary>
    /// The messages the peer sends, in order, until the connection closes (then the sequence ends;
    /// see <see cref="CloseStatus"/>). Each message's buffer is reused once the next one is requested.
    /// </summary>
    public IAsyncEnumerable<WebSocketMessage> ReadMessagesAsync(CancellationToken cancellationToken = default) =>
        new MessageReader(this, cancellationToken);

    /// <summary>
    /// The application's side of the inbox, written out instead of an async iterator: one small object
    /// per reading application instead of the iterator and its box (which an idle connection keeps),
    /// and a message goes from the read loop to a waiting application with no iterator step between.
    /// </summary>
    private sealed class MessageReader(WebSocketConnection connection, CancellationToken token)
        : IAsyncEnumerable<WebSocketMessage>, IAsyncEnumerator<WebSocketMessage>
    {
        private CancellationToken _token = token;
        private CancellationTokenSource? _linked;
        private int _state; // 0 not enumerated yet, 1 enumerating, 2 disposed

        public IAsyncEnumerator<WebSocketMessage> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            var reader = Interlocked.CompareExchange(ref _state, 1, 0) == 0 ? this : new MessageReader(connection, _token) { _state = 1 };
            if (cancellationToken.CanBeCanceled && cancellationToken != reader._token)
            {
                if (!reader._token.CanBeCanceled) reader._token = cancellationToken;
                else
                {
                    reader._linked = CancellationTokenSource.CreateLinkedTokenSource(reader._token, cancellationToken);
                    reader._token = reader._linked.Token;
                }
            }
            connection._readerLeft = false;
            return reader;
        }

        public WebSocketMessage Current => connection._inbox.Taken;

        public ValueTask<bool> MoveNextAsync()
        {
            // Asking for the next message means the last one is handled: its buffer goes back.
            connection.ReleaseTaken();
            return _state == 2 ? new ValueTask<bool>(false) : connection._inbox.ReadAsync(_token);
        }

        public ValueTask DisposeAsync()
        {
            if (_state == 2) return default;
            _state = 2;
            connection.ReleaseTaken();
            _linked?.Dispose();
            // Nobody is reading any more: waiting for replies to queued messages would be in vain.
            connection._readerLeft = true;
            Volatile.Read(ref connection._consumerIdle)?.TrySetResult();
            return default;
        }
    }

    private void ReleaseTaken()
    {
        if (!_inbox.TryReleaseTaken(out var message)) return;
        message.Return();
        if (Interlocked.Decrement(ref _inHand) == 0) Volatile.Read(ref _consumerIdle)?.TrySetResult();
    }

    /// <summary>
    /// Before this side sends its close frame, gives the application a moment to finish with the
    /// messages it was handed — so replies to messages that arrived before a close, or before the
    /// frame that fails the connection, still go out. Bounded: a slow application does not hold up
    /// the close for long.
    /// </summary>
    private async ValueTask WaitForConsumerAsync()
    {
        if (Volatile.Read(ref _inHand) == 0 || _readerLeft || _closeSent) return;
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _consumerIdle, idle);
        if (Volatile.Read(ref _inHand) == 0 || _readerLeft) return;
        try
        {
            await idle.Task.WaitAsync(ConsumerGrace, _lifetime.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private static readonly TimeSpan ConsumerGrace = TimeSpan.FromSeconds(1);

    private enum ReadMode { Frames, Draining, AwaitingEof, Done }

    private async Task ReadLoopAsync()
    {
        var input = _transport.Input;
        var token = _lifetime.Token;
        var mode = ReadMode.Frames;
        try
        {
            while (mode != ReadMode.Done)
            {
                // No token: a registration per connection costs memory while it idles. An ending
                // connection stops this read with CancelPendingRead instead (StartCloseTimer, Abort).
                var result = await input.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled) break;
                var buffer = result.Buffer;
                _lastReceived = Stopwatch.GetTimestamp();
                _unread = buffer;
                try
                {
                    mode = await ProcessAsync(buffer, mode, token).ConfigureAwait(false);
                }
                finally
                {
                    DuplexMetrics.BytesReceived.Add(buffer.Length - _unread.Length);
                    input.AdvanceTo(_unread.Start, buffer.End);
                }
                // The batch is handled: what the application sent inline goes out, one write per connection.
                if (_flushDeferred || _flushQueue is not null) await FlushBatchAsync().ConfigureAwait(false);
                if (result.IsCompleted) break;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // A close timeout or Abort(): the connection ends below.
        }
        catch (Exception ex)
        {
            // The transport failed (connection reset, TLS error): that is how the peer went away.
            _logger.LogDebug(DuplexLogEvents.TransportError, ex, "WebSocket {Id}: transport error", Id);
        }
        finally
        {
            FlushOthers();
            await FinishAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Handles what <paramref name="buffer"/> holds, keeping <see cref="_unread"/> at what is left (also
    /// when it throws), and returns the mode to read on in.
    /// </summary>
    private async ValueTask<ReadMode> ProcessAsync(ReadOnlySequence<byte> buffer, ReadMode mode, CancellationToken token)
    {
        // After the close handshake (and after failing the connection) we are only waiting for the
        // end: once it is there, the server closes TCP and the client waits for the server to
        // (RFC 6455 §7.1.1).
        ReadMode Closed() => Role == WebSocketRole.Client ? ReadMode.AwaitingEof : ReadMode.Done;
        while (true)
        {
            switch (mode)
            {
                case ReadMode.AwaitingEof:
                    // RFC 6455 §5.5.1: nothing is read after the close handshake.
                    _unread = buffer.Slice(buffer.End);
                    return mode;
                case ReadMode.Draining:
                    if (_drainSkip > 0 && LooksLikeCloseFrame(buffer))
                    {
                        // Some peers (Autobahn's fuzzer among them) answer our close at once, in the
                        // middle of the frame they were sending; we are failing the connection anyway.
                        _drainSkip = 0;
                    }
                    if (_drainSkip > 0)
                    {
                        // The rest of the frame that failed: payload, not headers.
                        long skip = Math.Min(_drainSkip, buffer.Length);
                        buffer = buffer.Slice(skip);
                        _drainSkip -= skip;
                        _unread = buffer;
                        if (_drainSkip > 0) return mode;
                    }
                    var seen = DrainUntilClose(ref buffer);
                    _unread = buffer;
                    if (seen == DrainResult.NeedMore) return mode;
                    return seen == DrainResult.CloseSeen ? Closed() : ReadMode.Done;
            }
            var step = Parse(ref buffer, out var error);
            _unread = buffer;
            // These wait for this connection's send lock: what other connections were sent meanwhile goes out first.
            if (step is Step.Ping or Step.Close or Step.Error) FlushOthers();
            switch (step)
            {
                case Step.NeedMore:
                    return mode;
                case Step.Message:
                    if (_messageBucket is not null || _byteBucket is not null)
                    {
                        var limited = await ChargeRateLimitAsync(token).ConfigureAwait(false);
                        if (limited is ProtocolError overLimit)
                        {
                            DropAssembledMessage();
                            FlushOthers();
                            await FailAsync(overLimit).ConfigureAwait(false);
                            mode = ReadMode.Draining;
                            break;
                        }
                    }
                    await DeliverAsync(endOfMessage: true, token).ConfigureAwait(false);
                    break;
                case Step.Chunk:
                    await DeliverAsync(endOfMessage: false, token).ConfigureAwait(false);
                    break;
                case Step.Ping:
                    await SendPongAsync(token).ConfigureAwait(false);
                    break;
                case Step.Pong:
                    CompletePings(_controlBuffer.AsSpan(0, (int)_frameReader.Current.PayloadLength));
                    break;
                case Step.Close:
                    await HandleCloseFrameAsync().ConfigureAwait(false);
                    return Closed();
                case Step.Error:
                    _drainSkip = _inFrame ? _frameReader.RemainingInFrame : 0;
                    _inFrame = false;
                    await FailAsync(error).ConfigureAwait(false);
                    mode = ReadMode.Draining;
                    break;
            }
        }
    }

    private enum Step { NeedMore, Message, Chunk, Ping, Pong, Close, Error }

    private enum DrainResult { NeedMore, CloseSeen, Garbage }

    /// <summary>Consumes frames from <paramref name="buffer"/> until something needs the loop's attention.</summary>
    private Step Parse(ref ReadOnlySequence<byte> buffer, out ProtocolError error)
    {
        error = default;
        Span<byte> joined = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            // A compressed message that inflated to more than one part still has parts to hand out.
            if (_inflatedDone) return EmitInflatedPart();
            if (!_inFrame)
            {
                if (buffer.Length < 2) return Step.NeedMore;
                scoped ReadOnlySpan<byte> head = buffer.FirstSpan;
                if (head.Length < FrameHeader.MaxLength && buffer.Length > head.Length)
                {
                    int n = (int)Math.Min(FrameHeader.MaxLength, buffer.Length);
                    buffer.Slice(0, n).CopyTo(joined);
                    head = joined.Slice(0, n);
                }
                var status = _frameReader.TryReadHeader(head, out var header, out error);
                if (status == FrameReadStatus.NeedMoreData) return Step.NeedMore;
                if (status == FrameReadStatus.Error) return Step.Error;
                buffer = buffer.Slice(header.HeaderLength);
                _inFrame = true;
            }

            var frame = _frameReader.Current;
            if (frame.Opcode.IsControl())
            {
                int length = (int)frame.PayloadLength;
                if (buffer.Length < length) return Step.NeedMore;
                var payload = _controlBuffer.AsSpan(0, length);
                buffer.Slice(0, length).CopyTo(payload);
                buffer = buffer.Slice(length);
                _frameReader.ProcessPayload(payload, out _);
                _inFrame = false;
                return frame.Opcode switch
                {
                    Opcode.Ping => Step.Ping,
                    Opcode.Pong => Step.Pong,
                    _ => Step.Close,
                };
            }

            long remaining = _frameReader.RemainingInFrame;
            if (remaining > 0 && _frameReader.MessageCompressed)
            {
                if (buffer.IsEmpty) return Step.NeedMore;
                if (!InflateChunk(ref buffer, out error)) return Step.Error;
                if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount >= part) return EmitInflatedPart();
                if (_frameReader.RemainingInFrame > 0) continue;
            }
            else if (remaining > 0)
            {
                if (buffer.IsEmpty) return Step.NeedMore;
                int n = (int)Math.Min(remaining, buffer.Length);
                if (_options.ReceiveChunkSize is int chunk) n = Math.Min(n, chunk - _messageLength);
                var destination = ReserveMessageSpace(n);
                buffer.Slice(0, n).CopyTo(destination);
                buffer = buffer.Slice(n);
                _messageLength += n;
                if (!_frameReader.ProcessPayload(destination, out error)) return Step.Error;
                if (_messageLength == _options.ReceiveChunkSize && !(_frameReader.RemainingInFrame == 0 && frame.Fin)) return Step.Chunk;
                if (_frameReader.RemainingInFrame > 0) return Step.NeedMore;
            }
            _inFrame = false;
            if (_frameReader.CompleteDataFrame(out var endError))
            {
                if (endError is ProtocolError e)
                {
                    error = e;
                    return Step.Error;
                }
                if (_frameReader.MessageCompressed)
                {
                    if (!FinishInflating(out error)) return Step.Error;
                    if (_inflatedDone) return EmitInflatedPart();
                }
                return Step.Message;
            }
        }
    }

    /// <summary>
    /// Unmasks the next piece of a compressed frame into a scratch buffer and inflates it, bounded by
    /// the message size limit (a decompression bomb stops at the limit: 1009), validating text as it
    /// comes out (RFC 7692 §8: UTF-8 applies to the decompressed data).
    /// </summary>
    private bool InflateChunk(ref ReadOnlySequence<byte> buffer, out ProtocolError error)
    {
        int n = (int)Math.Min(Math.Min(_frameReader.RemainingInFrame, buffer.Length), _compressedIn!.Length);
        var chunk = _compressedIn.AsSpan(0, n);
        buffer.Slice(0, n).CopyTo(chunk);
        buffer = buffer.Slice(n);
        _frameReader.ProcessPayload(chunk, out _);
        return Inflate(chunk, endOfMessage: false, out error);
    }

    private bool FinishInflating(out ProtocolError error)
    {
        // RFC 7692 §7.2.2: the 00 00 FF FF the sender stripped is put back at the end of the message.
        if (!Inflate(ReadOnlySpan<byte>.Empty, endOfMessage: true, out error)) return false;
        if (_frameReader.MessageOpcode == Opcode.Text && !_inflatedUtf8.IsComplete)
        {
            error = new(Protocol.CloseStatus.InvalidPayloadData, "text message ends inside a UTF-8 sequence");
            return false;
        }
        _inflatedUtf8.Reset();
        if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount > part)
        {
            _inflatedDone = true;
            return true;
        }
        _messageBuffer = _inflated!.DetachBuffer(out _messageLength);
        _inflated = null;
        return true;
    }

    /// <summary>
    /// Hands out the next <see cref="WebSocketConnectionOptions.ReceiveChunkSize"/> bytes of inflated
    /// output as a part of the message (the last part when the message is done and nothing is left).
    /// </summary>
    private Step EmitInflatedPart()
    {
        var written = _inflated!.WrittenSpan;
        int n = Math.Min(_options.ReceiveChunkSize ?? int.MaxValue, written.Length);
        if (_inflatedDone && n == written.Length)
        {
            _messageBuffer = _inflated.DetachBuffer(out _messageLength);
            _inflated = null;
            _inflatedDone = false;
            return Step.Message;
        }
        var part = ArrayPool<byte>.Shared.Rent(n);
        written.Slice(0, n).CopyTo(part);
        _messageBuffer = part;
        _messageLength = n;
        var rest = new PooledBufferWriter(Math.Max(1024, written.Length - n)) { MaxCapacity = _inflated.MaxCapacity };
        written.Slice(n).CopyTo(rest.GetSpan(written.Length - n));
        rest.Advance(written.Length - n);
        _inflated.Dispose();
        _inflated = rest;
        return Step.Chunk;
    }

    private bool Inflate(ReadOnlySpan<byte> compressed, bool endOfMessage, out ProtocolError error)
    {
        _inflated ??= new PooledBufferWriter(1024) { MaxCapacity = (int)Math.Min(int.MaxValue - 64, _options.MaxMessageSize + 1) };
        int before = _inflated.WrittenCount;
        if (_inflater!.Inflate(compressed, endOfMessage, _options.MaxMessageSize, _inflated, out error) != InflateStatus.Done) return false;
        if (_frameReader.MessageOpcode == Opcode.Text && !_inflatedUtf8.Feed(_inflated.WrittenSpan.Slice(before)))
        {
            error = new(Protocol.CloseStatus.InvalidPayloadData, "invalid UTF-8 in text message");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Takes a message's tokens from the rate limit buckets. Over the limit, either fails the
    /// connection (1008) or waits for tokens — the read loop stops meanwhile, so TCP slows the peer.
    /// </summary>
    private async ValueTask<ProtocolError?> ChargeRateLimitAsync(CancellationToken token)
    {
        if (_messageBucket is not null && await ChargeAsync(_messageBucket, 1, _options.ReceiveRateLimit.MessagesPerSecond!.Value, token).ConfigureAwait(false) is { } e1)
            return e1;
        if (_byteBucket is not null && _messageLength > 0 &&
            await ChargeAsync(_byteBucket, _messageLength, _options.ReceiveRateLimit.BytesPerSecond!.Value, token).ConfigureAwait(false) is { } e2)
            return e2;
        return null;
    }

    private async ValueTask<ProtocolError?> ChargeAsync(System.Threading.RateLimiting.TokenBucketRateLimiter bucket, int cost, int limit, CancellationToken token)
    {
        // A message larger than a whole second's budget costs the whole budget.
        int permits = Math.Min(cost, limit);
        using (var lease = bucket.AttemptAcquire(permits))
        {
            if (lease.IsAcquired) return null;
        }
        var policy = _options.ReceiveRateLimit.Policy;
        DuplexMetrics.RateLimited.Add(1, new KeyValuePair<string, object?>("policy", policy.ToString()));
        if (policy == RateLimitPolicy.Close)
            return new ProtocolError(Protocol.CloseStatus.PolicyViolation, "receive rate limit exceeded");
        await FlushBatchAsync().ConfigureAwait(false);
        using var waited = await bucket.AcquireAsync(permits, token).ConfigureAwait(false);
        return null;
    }

    private void DropAssembledMessage()
    {
        if (_messageBuffer is not null) ArrayPool<byte>.Shared.Return(_messageBuffer);
        _messageBuffer = null;
        _messageLength = 0;
    }

    private Span<byte> ReserveMessageSpace(int count)
    {
        int needed = _messageLength + count;
        if (_messageBuffer is null || _messageBuffer.Length < needed)
        {
            // Grow with the data that has arrived, not with what a header announces: a peer that
            // declares a huge frame and sends nothing must not make us allocate it. But a frame's
            // announced end is trusted up to 64 KiB, or up to twice what is held: a 16 KiB message
            // arriving in pieces then takes one buffer instead of three (and two copies less).
            long frameEnd = _messageLength + _frameReader.RemainingInFrame;
            long step = Math.Max(_messageBuffer is null ? 0 : (long)_messageBuffer.Length * 2, 64 * 1024);
            long cap = _options.ReceiveChunkSize is int chunk ? Math.Min(chunk, _options.MaxMessageSize) : _options.MaxMessageSize;
            int size = (int)Math.Max(needed, Math.Min(Math.Min(frameEnd, step), cap));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            if (_messageBuffer is not null)
            {
                _messageBuffer.AsSpan(0, _messageLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_messageBuffer);
            }
            _messageBuffer = bigger;
        }
        return _messageBuffer.AsSpan(_messageLength, count);
    }

    private ValueTask DeliverAsync(bool endOfMessage, CancellationToken token)
    {
        var type = _frameReader.MessageOpcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        var message = new WebSocketMessage(type, _messageBuffer, _messageLength, endOfMessage);
        _messageBuffer = null;
        _messageLength = 0;
        if (endOfMessage) DuplexMetrics.MessagesReceived.Add(1);
        Interlocked.Increment(ref _inHand);
        // A waiting application runs inside TryWrite (synchronous continuations): what it sends
        // meanwhile may wait for the flush at the end of this batch.
        var outer = t_delivering;
        t_delivering = this;
        bool delivered;
        try
        {
            delivered = _inbox.TryWrite(message);
        }
        finally
        {
            t_delivering = outer;
        }
        if (delivered) return ValueTask.CompletedTask;
        return DeliverWhenRoomAsync(message, token);
    }

    private async ValueTask DeliverWhenRoomAsync(WebSocketMessage message, CancellationToken token)
    {
        // The application is behind: reading stops here and TCP pushes back on the peer. A peer whose
        // data waits for us is alive, whatever the heartbeat sees (see HeartbeatAsync).
        _deliveryBlocked = true;
        try
        {
            await FlushBatchAsync().ConfigureAwait(false);
            while (!_inbox.TryWrite(message))
            {
                if (!await _inbox.WaitForRoomAsync(token).ConfigureAwait(false))
                {
                    // Only the ending read loop completes the inbox; nobody will read this one.
                    message.Return();
                    Interlocked.Decrement(ref _inHand);
                    return;
                }
            }
        }
        finally
        {
            _deliveryBlocked = false;
            _lastReceived = Stopwatch.GetTimestamp();
        }
    }
}
