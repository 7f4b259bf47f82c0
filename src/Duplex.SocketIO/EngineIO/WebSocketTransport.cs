using System.Diagnostics;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// A WebSocket carrying a session: each packet is one message (text, or binary for binary
/// attachments). A read loop hands packets to the session; a writer sends the session's buffer as it
/// fills, and closes the WebSocket once the session is closed and its last packets are out.
/// </summary>
internal sealed class WebSocketTransport : EngineTransport
{
    private static readonly TimeSpan WriteAlonePause = TimeSpan.FromMilliseconds(1);
    private readonly WebSocketConnection _socket;
    // One enumerator for the whole life of the WebSocket: the probe exchange and the read loop after it.
    private readonly IAsyncEnumerator<WebSocketMessage> _messages;
    // The writer's wait, reused: armed under the session's lock when the writer has nothing to send
    // (_writerWaiting), set by whoever queues the next packet.
    private readonly ReusableSignal _writerWake = new();
    private bool _writerWaiting;
    // permessage-deflate with the server's context carried over between messages: a prepared frame is
    // never compressed for such a connection (the engine's broadcast rule), so packets go through the
    // connection's own deflater instead, as the reference's per-socket compression does.
    private readonly bool _compressesOwnMessages;

    /// <param name="session">The session carried.</param>
    /// <param name="socket">The WebSocket.</param>
    /// <param name="readCancellation">Ends reading: during an upgrade, the upgrade timeout.</param>
    internal WebSocketTransport(EngineIOSession session, WebSocketConnection socket, CancellationToken readCancellation) : base(session)
    {
        _socket = socket;
        _compressesOwnMessages = socket.Compression is { } agreed && !agreed.SenderResetsContext(Duplex.Protocol.WebSocketRole.Server);
        _messages = socket.ReadMessagesAsync(readCancellation).GetAsyncEnumerator();
    }

    public override string Name => "websocket";

    /// <summary>
    /// While the writer waits with nothing to send: nothing queued, nothing in flight, and nothing the
    /// connection holds unflushed (a flush deferred to the end of a read batch). As the reference's
    /// WebSocket transport, which is not writable from a send until the socket has taken its last packet;
    /// a volatile packet sent meanwhile is dropped, so a burst delivers what the socket keeps up with.
    /// </summary>
    public override bool IsWritableLocked
    {
        get
        {
            AssertLockHeld();
            return _writerWaiting && _socket.BufferedAmount == 0;
        }
    }

    public override TransportWake TakeWakeLocked()
    {
        AssertLockHeld();
        if (!_writerWaiting) return default;
        _writerWaiting = false;
        return new TransportWake(_writerWake);
    }

    public override bool DefersCloseLocked => false;

    /// <summary>
    /// The probe exchange of an upgrade: answers each <c>2probe</c> with <c>3probe</c> (and calls
    /// <paramref name="onProbe"/>) until the client sends <c>5</c> (true) or anything else, closes, or
    /// reading is cancelled (false).
    /// </summary>
    internal async Task<bool> ProbeAsync(Action onProbe)
    {
        try
        {
            while (await _messages.MoveNextAsync().ConfigureAwait(false))
            {
                var message = _messages.Current;
                string? text = message.IsText ? message.Text : null;
                if (text == "2probe")
                {
                    // Off the read loop's delivery first, so the 3probe is flushed now rather than at the end
                    // of the read batch: a "5" in the same read switches the session, and a poll answered
                    // 400 on another thread meanwhile must not overtake the 3probe (the reference server
                    // writes it at once; the official suite reads the two in that order).
                    await Task.Yield();
                    await _socket.SendTextAsync("3probe").ConfigureAwait(false);
                    onProbe();
                    continue;
                }
                return text == "5";
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        return false;
    }

    /// <summary>Carries the session until the WebSocket or the session ends.</summary>
    internal async Task RunAsync()
    {
        var writer = WriteLoopAsync();
        try
        {
            await ReadLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            // Nobody reads any more: the writer's close need not wait for the last message's handling.
            await _messages.DisposeAsync().ConfigureAwait(false);
        }
        await writer.ConfigureAwait(false);
    }

    /// <summary>Drops a WebSocket that never became the session's transport (a failed or refused upgrade).</summary>
    internal async Task DiscardAsync()
    {
        await _messages.DisposeAsync().ConfigureAwait(false);
        await CloseQuietlyAsync(_socket).ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _messages.MoveNextAsync().ConfigureAwait(false))
            {
                var message = _messages.Current;
                EnginePacket packet;
                if (message.IsText)
                {
                    if (!EnginePacket.TryParseUtf8(message.Data.Span, out packet))
                    {
                        Session.Close(EngineCloseReason.ParseError, graceful: false);
                        return;
                    }
                }
                else packet = EnginePacket.Message(message.ToArray());
                Session.OnPacket(packet);
                if (!Session.IsOpen) return;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        // The peer closed the WebSocket (or it failed).
        Session.Close(EngineCloseReason.TransportClose, graceful: false);
    }

    private async Task WriteLoopAsync()
    {
        // Two lists trade places: the writer sends one while packets gather in the other.
        var batch = new List<QueuedPacket>();
        // What the last batch wrote, reported to the session under the lock the next batch takes anyway.
        long writtenBytes = 0;
        int written = 0;
        try
        {
            while (true)
            {
                ValueTask wait = default;
                bool waiting = false;
                TaskCompletionSource<bool>? drained;
                batch.Clear();
                lock (Session.Gate)
                {
                    Debug.Assert(Session.IsCurrentLocked(this), "only the session's transport writes");
                    drained = Session.OnWrittenLocked(writtenBytes, written);
                    writtenBytes = written = 0;
                    if (!Session.SwapQueuedLocked(ref batch))
                    {
                        if (!Session.IsOpen) break;
                        // Completed synchronously on purpose: whoever queues the next packet runs this writer
                        // on its own thread, up to the next wait. From a handler on a read loop (an ack, a
                        // broadcast) the frames then join that loop's deferred flush: one write per read
                        // batch, instead of a thread-pool hop and a flush per packet.
                        wait = _writerWake.Arm();
                        _writerWaiting = waiting = true;
                    }
                }
                Session.SignalDrain(drained);
                if (waiting)
                {
                    await wait.ConfigureAwait(false);
                    continue;
                }
                for (int i = 0; i < batch.Count; i++)
                {
                    var packet = batch[i].Packet;
                    // A packet written alone must reach the socket now, not join the deferred flush of a
                    // read loop this writer may be running on (the next packets would go in the same write).
                    if (packet.WriteAlone) await Task.Yield();
                    var frame = batch[i].ToFrame();
                    if (_compressesOwnMessages) await _socket.SendAsync(frame.Payload, frame.Type, frame.Compress).ConfigureAwait(false);
                    else await _socket.SendAsync(frame).ConfigureAwait(false);
                    writtenBytes += packet.WireLength;
                    written++;
                    if (packet.WriteAlone)
                    {
                        // What follows goes in a later write, as it does from the reference server (see EnginePacket.WriteAlone).
                        Session.Requeue(batch, i + 1);
                        await Task.Delay(WriteAlonePause).ConfigureAwait(false);
                        break;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
            // Off the stack of whoever queued the packet (it may be another session's handler): close
            // handlers run on their own.
            await Task.Yield();
            Session.Close(EngineCloseReason.TransportError, graceful: false);
        }
        await CloseQuietlyAsync(_socket).ConfigureAwait(false);
    }

    /// <summary>
    /// A slow consumer's WebSocket: starts the close (1013 Try Again Later) now, though the writer may be
    /// stuck on a peer that does not read; the close timeout then drops the connection and frees the writer.
    /// </summary>
    internal void CloseStalled()
    {
        if (_socket.State >= WebSocketState.CloseSent) return;
        _ = CloseSlowConsumerAsync(_socket);

        static async Task CloseSlowConsumerAsync(WebSocketConnection socket)
        {
            try
            {
                await socket.CloseAsync(Duplex.Protocol.CloseStatus.TryAgainLater, "slow consumer").ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Closes <paramref name="socket"/> if nobody has yet, ignoring a peer already gone.</summary>
    internal static async Task CloseQuietlyAsync(WebSocketConnection socket)
    {
        try
        {
            if (socket.State < WebSocketState.CloseSent) await socket.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
    }
}
