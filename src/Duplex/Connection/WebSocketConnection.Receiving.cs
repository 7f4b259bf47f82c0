using System.Buffers;
using System.Diagnostics;
using Duplex.Protocol;
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
        if (Volatile.Read(ref _inHand) == 0 || _readerLeft || !_protocol.CanSendControl) return;
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

    private async Task ReadLoopAsync()
    {
        var input = _transport.Input;
        var token = _lifetime.Token;
        try
        {
            bool reading = true;
            while (reading)
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
                    reading = await ProcessAsync(buffer, token).ConfigureAwait(false);
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
    /// Acts on the protocol's events in <paramref name="buffer"/>, keeping <see cref="_unread"/> at what
    /// is left (also when it throws). False once the protocol says input is over.
    /// </summary>
    private async ValueTask<bool> ProcessAsync(ReadOnlySequence<byte> buffer, CancellationToken token)
    {
        while (true)
        {
            var next = _protocol.Receive(ref buffer);
            _unread = buffer;
            // These wait for this connection's send lock: what other connections were sent meanwhile goes out first.
            if (next is WebSocketEvent.Ping or WebSocketEvent.Close or WebSocketEvent.Failure) FlushOthers();
            switch (next)
            {
                case WebSocketEvent.NeedMoreData:
                    return true;
                case WebSocketEvent.InputEnded:
                    return false;
                case WebSocketEvent.Message:
                {
                    var data = _protocol.TakeMessage(out int length);
                    if ((_messageBucket is not null || _byteBucket is not null) &&
                        await ChargeRateLimitAsync(length, token).ConfigureAwait(false) is ProtocolError overLimit)
                    {
                        if (data is not null) ArrayPool<byte>.Shared.Return(data);
                        _protocol.Fail(overLimit);
                        FlushOthers();
                        await FailAsync(overLimit).ConfigureAwait(false);
                        break;
                    }
                    await DeliverAsync(data, length, endOfMessage: true, token).ConfigureAwait(false);
                    break;
                }
                case WebSocketEvent.MessagePart:
                {
                    var data = _protocol.TakeMessage(out int length);
                    await DeliverAsync(data, length, endOfMessage: false, token).ConfigureAwait(false);
                    break;
                }
                case WebSocketEvent.Ping:
                    RaiseControlFrame(PingReceived, "PingReceived");
                    if (_options.AutoPong) await AnswerPingAsync(token).ConfigureAwait(false);
                    break;
                case WebSocketEvent.Pong:
                    RaiseControlFrame(PongReceived, "PongReceived"); // before PingAsync's waiters go on
                    CompletePings(_protocol.ControlPayload);
                    break;
                case WebSocketEvent.Close:
                    await HandleCloseFrameAsync().ConfigureAwait(false);
                    break;
                case WebSocketEvent.Failure:
                    await FailAsync(_protocol.Error).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>
    /// Takes a message's tokens from the rate limit buckets. Over the limit, either fails the
    /// connection (1008) or waits for tokens — the read loop stops meanwhile, so TCP slows the peer.
    /// </summary>
    private async ValueTask<ProtocolError?> ChargeRateLimitAsync(int length, CancellationToken token)
    {
        if (_messageBucket is not null && await ChargeAsync(_messageBucket, 1, _options.ReceiveRateLimit.MessagesPerSecond!.Value, token).ConfigureAwait(false) is { } e1)
            return e1;
        if (_byteBucket is not null && length > 0 &&
            await ChargeAsync(_byteBucket, length, _options.ReceiveRateLimit.BytesPerSecond!.Value, token).ConfigureAwait(false) is { } e2)
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

    private ValueTask DeliverAsync(byte[]? data, int length, bool endOfMessage, CancellationToken token)
    {
        var type = _protocol.MessageOpcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        var message = new WebSocketMessage(type, data, length, endOfMessage);
        if (endOfMessage) DuplexMetrics.MessagesReceived.Add(1);
        _lastMessage = _lastReceived; // the read that brought it (IdleTimeout)
        Interlocked.Increment(ref _inHand);
        // A waiting application runs inside TryWrite (synchronous continuations): what it sends
        // meanwhile may wait for the flush at the end of this batch (FlushBatching).
        Debug.Assert(t_delivering != this, "a connection's read loop delivers one message at a time");
        var outer = EnterDelivery();
        bool delivered;
        try
        {
            delivered = _inbox.TryWrite(message);
        }
        finally
        {
            LeaveDelivery(outer);
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
            _lastMessage = _lastReceived; // a message the application was behind on is not idleness
        }
    }
}
