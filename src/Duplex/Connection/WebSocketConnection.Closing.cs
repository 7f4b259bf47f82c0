using System.Buffers;
using System.Text;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex;

// Ending: the close handshake (RFC 6455 §7), failing the connection, draining after a failure, and Abort/Dispose.
public sealed partial class WebSocketConnection
{
    /// <summary>Answers the peer's valid close frame (the protocol has judged it), once the replies still due are out.</summary>
    private async ValueTask HandleCloseFrameAsync()
    {
        _closeStatus ??= _protocol.PeerCloseStatus;
        _closeDescription ??= _protocol.PeerCloseReason;
        SetState(WebSocketState.CloseReceived);
        // The answer can queue behind a send stuck on a peer that stopped reading: the close
        // handshake is bounded by CloseTimeout here as everywhere, or the connection never ends.
        StartCloseTimer();
        await WaitForConsumerAsync().ConfigureAwait(false);
        // RFC 6455 §5.5.1: answer with a close frame, echoing the status code received.
        await SendControlAsync(ControlFrame.CloseReply, default, null, null, _lifetime.Token).ConfigureAwait(false);
        SetState(WebSocketState.Closed);
        if (Role == WebSocketRole.Client)
        {
            // RFC 6455 §7.1.1: the server closes TCP first; wait for it, but not forever.
            StartCloseTimer();
        }
    }

    /// <summary>
    /// The protocol failed the connection (its input now skips to the peer's close frame): logs and
    /// counts it once, and sends our close frame with the error's code once the replies still due are out.
    /// </summary>
    private async ValueTask FailAsync(ProtocolError error)
    {
        _closeStatus ??= error.Status;
        _closeDescription ??= error.Reason;
        DuplexMetrics.ProtocolErrors.Add(1, new KeyValuePair<string, object?>("code", (int)error.Status));
        _logger.LogInformation(DuplexLogEvents.ProtocolError, "WebSocket {Id}: failing connection with {Code}: {Reason}", Id, (int)error.Status, error.Reason);
        StartCloseTimer();
        try
        {
            await WaitForConsumerAsync().ConfigureAwait(false);
            await SendControlAsync(ControlFrame.Close, default, error.Status, error.Reason, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        // Our close is out and we wait for the peer's (or the close timeout): Closed once input ends.
        SetState(WebSocketState.CloseSent);
    }

    private async Task FinishAsync()
    {
        // A failed connection ends Closed, with the code it failed with, whether or not the peer answered.
        if (_protocol.State is WebSocketProtocolState.Failing or WebSocketProtocolState.Closed) SetState(WebSocketState.Closed);
        if (_state < (int)WebSocketState.Closed)
        {
            // The close handshake did not finish: the peer vanished, or never answered our close.
            _closeStatus ??= Protocol.CloseStatus.AbnormalClosure;
            SetState(WebSocketState.Aborted);
        }
        _inbox.Complete();
        _messageBucket?.Dispose();
        _byteBucket?.Dispose();
        FailPendingPings();

        // The close timer's StopReading must not run on the pipes once they are released (it would
        // throw on a disposed reader at the lifetime's cancel below, once per connection).
        Interlocked.Exchange(ref _readStopArmed, 1);
        _stopReading.Dispose();

        // Wake a sender stuck on a peer that stopped reading, then take the lock so no one is
        // writing while the output is completed.
        _transport.Output.CancelPendingFlush();
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _outputDone = true;
            // The read loop is over and no sender holds the lock: neither side of the protocol is in use.
            _protocol.Dispose();
            Interlocked.Exchange(ref _budget, null)?.Give(_budgetBytes);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(DuplexLogEvents.TransportRelease, ex, "WebSocket {Id}: completing output", Id);
        }
        finally
        {
            _sendLock.Release();
        }
        try
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            if (_closeTransport is not null) await _closeTransport().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(DuplexLogEvents.TransportRelease, ex, "WebSocket {Id}: releasing transport", Id);
        }
        _heartbeat?.Remove(this);
        DuplexMetrics.ActiveConnections.Add(-1);
        DuplexMetrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("code", (int)(_closeStatus ?? Protocol.CloseStatus.AbnormalClosure)));
        // Ends the heartbeat and any pending close timer now, so a finished connection is not kept
        // reachable for a close timeout by its own timers (measured: memory growth under handshake load).
        try
        {
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        _completion.TrySetResult();
    }

    /// <summary>
    /// Bounds the close handshake: after <see cref="WebSocketConnectionOptions.CloseTimeout"/> the
    /// lifetime ends, which also stops the read loop's pending read, and a flush stuck on a peer that
    /// does not read (the read loop may be in one, flushing what was sent during its deliveries).
    /// </summary>
    private void StartCloseTimer()
    {
        if (Interlocked.Exchange(ref _readStopArmed, 1) == 0)
            _stopReading = _lifetime.Token.UnsafeRegister(static state => ((WebSocketConnection)state!).StopReading(), this);
        _lifetime.CancelAfter(_options.CloseTimeout);
    }

    private void StopReading()
    {
        try
        {
            _transport.Input.CancelPendingRead();
            _transport.Output.CancelPendingFlush();
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            // The read loop is over and the pipe released.
        }
    }

    private void SetState(WebSocketState state)
    {
        // States only move forward; Closed and Aborted are final.
        while (true)
        {
            int current = _state;
            if (current >= (int)WebSocketState.Closed || current >= (int)state) return;
            if (Interlocked.CompareExchange(ref _state, (int)state, current) == current) return;
        }
    }

    /// <summary>
    /// Starts the close handshake (RFC 6455 §7.1.2) and waits until it ends: the peer's close frame
    /// arrives and TCP is closed, or <see cref="WebSocketConnectionOptions.CloseTimeout"/> passes and the
    /// connection is dropped.
    /// </summary>
    public async Task CloseAsync(CloseStatus status = Protocol.CloseStatus.NormalClosure, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!CloseStatusRules.IsValidOnWire((int)status))
            throw new ArgumentOutOfRangeException(nameof(status), (int)status, "Only 1000–1003, 1007–1014 and 3000–4999 may be sent in a close frame.");
        if (reason is not null && Encoding.UTF8.GetByteCount(reason) > FrameWriter.MaxCloseReasonBytes)
            throw new ArgumentException("A close reason holds at most 123 UTF-8 bytes.", nameof(reason));
        if (_state >= (int)WebSocketState.Closed)
        {
            await Completion.ConfigureAwait(false);
            return;
        }
        SetState(WebSocketState.CloseSent);
        StartCloseTimer();
        try
        {
            await SendControlAsync(ControlFrame.Close, default, status, reason, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }
        await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops the connection at once, without a close handshake; <see cref="CloseStatus"/> becomes 1006.</summary>
    public void Abort()
    {
        _closeStatus ??= Protocol.CloseStatus.AbnormalClosure;
        SetState(WebSocketState.Aborted);
        // Cancelling can run the read loop's ending inline, which completes the pipes; a pipe that is
        // already complete may have disposed what its cancel uses. Either way the loop is ending.
        try
        {
            _transport.Output.CancelPendingFlush();
            _transport.Input.CancelPendingRead();
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes with 1000 if still open (bounded by the close timeout), then waits for the end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_state < (int)WebSocketState.Closed)
        {
            try
            {
                await CloseAsync(Protocol.CloseStatus.NormalClosure).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
            {
            }
        }
        await Completion.ConfigureAwait(false);
    }
}
