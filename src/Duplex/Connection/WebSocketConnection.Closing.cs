using System.Buffers;
using System.Text;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex;

// Ending: the close handshake (RFC 6455 §7), failing the connection, draining after a failure, and Abort/Dispose.
public sealed partial class WebSocketConnection
{
    private bool LooksLikeCloseFrame(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 2) return false;
        Span<byte> head = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(head);
        bool masked = (head[1] & 0x80) != 0;
        return head[0] == 0x88 && masked == (Role == WebSocketRole.Server) && (head[1] & 0x7F) <= 125;
    }

    /// <summary>After failing the connection: skip frames until the peer's close frame arrives.</summary>
    private static DrainResult DrainUntilClose(ref ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            int n = (int)Math.Min(FrameHeader.MaxLength, buffer.Length);
            buffer.Slice(0, n).CopyTo(head);
            if (!FrameHeader.TryParse(head.Slice(0, n), out var h)) return DrainResult.NeedMore;
            if (h.PayloadLength < 0 || h.PayloadLength > 1 << 20) return DrainResult.Garbage;
            long total = h.HeaderLength + h.PayloadLength;
            if (buffer.Length < total) return DrainResult.NeedMore;
            buffer = buffer.Slice(total);
            if (h.Opcode == Opcode.Close) return DrainResult.CloseSeen;
        }
    }

    /// <summary>Handles the peer's close frame: answers it, or fails the connection if its payload is invalid.</summary>
    private async ValueTask HandleCloseFrameAsync()
    {
        int length = (int)_frameReader.Current.PayloadLength;
        if (!FrameReader.TryParseClosePayload(_controlBuffer.AsSpan(0, length), out var status, out var reason, out var error))
        {
            // The peer already closed; nothing more will come but TCP's end.
            await FailAsync(error).ConfigureAwait(false);
            return;
        }
        _closeStatus ??= status ?? Protocol.CloseStatus.NoStatusReceived;
        _closeDescription ??= reason;
        SetState(WebSocketState.CloseReceived);
        // The answer can queue behind a send stuck on a peer that stopped reading: the close
        // handshake is bounded by CloseTimeout here as everywhere, or the connection never ends.
        StartCloseTimer();
        await WaitForConsumerAsync().ConfigureAwait(false);
        // RFC 6455 §5.5.1: answer with a close frame, echoing the status code received.
        await SendCloseFrameAsync(status, null, _lifetime.Token).ConfigureAwait(false);
        SetState(WebSocketState.Closed);
        if (Role == WebSocketRole.Client)
        {
            // RFC 6455 §7.1.1: the server closes TCP first; wait for it, but not forever.
            StartCloseTimer();
        }
    }

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
            await SendCloseFrameAsync(error.Status, error.Reason, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        SetState(WebSocketState.Closed);
    }

    private async Task FinishAsync()
    {
        if (_state < (int)WebSocketState.Closed)
        {
            // The close handshake did not finish: the peer vanished, or never answered our close.
            _closeStatus ??= Protocol.CloseStatus.AbnormalClosure;
            SetState(WebSocketState.Aborted);
        }
        _inbox.Complete();
        if (_messageBuffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_messageBuffer);
            _messageBuffer = null;
        }
        _inflated?.Dispose();
        _inflater?.Dispose();
        _messageBucket?.Dispose();
        _byteBucket?.Dispose();
        FailPendingPings();

        // Wake a sender stuck on a peer that stopped reading, then take the lock so no one is
        // writing while the output is completed.
        _transport.Output.CancelPendingFlush();
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _outputDone = true;
            _deflater?.Dispose();
            _compressedOut?.Dispose();
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
            _lifetime.Token.UnsafeRegister(static state => ((WebSocketConnection)state!).StopReading(), this);
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
            await SendCloseFrameAsync(status, reason, _lifetime.Token).ConfigureAwait(false);
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
