using Microsoft.Extensions.Logging;

namespace Duplex;

// Pings and pongs as the application sees them: events for each one received, a pong sent by hand.
public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Raised on the read loop for each ping the peer sends, with its payload (valid only during the
    /// call; copy it to keep it), before the automatic pong (<see cref="WebSocketConnectionOptions.AutoPong"/>).
    /// Keep handlers short: the connection reads nothing else meanwhile. A handler that throws is logged.
    /// </summary>
    public event Action<WebSocketConnection, ReadOnlyMemory<byte>>? PingReceived;

    /// <summary>
    /// Raised on the read loop for each pong the peer sends — answers to <see cref="PingAsync"/> and to
    /// heartbeat pings, and unsolicited ones (RFC 6455 §5.5.3 allows a pong as a one-way heartbeat) —
    /// with its payload, valid only during the call.
    /// </summary>
    public event Action<WebSocketConnection, ReadOnlyMemory<byte>>? PongReceived;

    /// <summary>
    /// Sends a pong: the answer to a ping when <see cref="WebSocketConnectionOptions.AutoPong"/> is off
    /// (give the ping's payload), or an unsolicited one as a one-way heartbeat (RFC 6455 §5.5.3). It may
    /// go between the fragments of a message. After this side's close frame it is skipped, as the RFC asks.
    /// </summary>
    /// <exception cref="ArgumentException">The payload is over 125 bytes (§5.5).</exception>
    public async Task SendPongAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > 125) throw new ArgumentException("A control frame carries at most 125 bytes (RFC 6455 §5.5).", nameof(payload));
        await SendControlAsync(ControlFrame.PongNow, payload, null, null, cancellationToken).ConfigureAwait(false);
    }

    private void RaiseControlFrame(Action<WebSocketConnection, ReadOnlyMemory<byte>>? handlers, string name)
    {
        if (handlers is null) return;
        try
        {
            handlers(this, _protocol.ControlPayloadMemory);
        }
        catch (Exception ex)
        {
            _logger.LogError(DuplexLogEvents.HandlerFailed, ex, "WebSocket {Id}: a {Event} handler threw", Id, name);
        }
    }
}
