using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Duplex;

// The heartbeat: pings a quiet peer and drops one that stays silent (one shared timer, HeartbeatScheduler).
public sealed partial class WebSocketConnection
{
    /// <summary>The round-trip time of the latest answered ping (heartbeat or <see cref="PingAsync"/>).</summary>
    public TimeSpan? LastRoundTripTime { get; private set; }

    /// <summary>
    /// The keep-alive, called on every tick of the shared <see cref="HeartbeatScheduler"/>: pings a peer
    /// silent for <see cref="WebSocketConnectionOptions.KeepAliveInterval"/>, and drops one that then
    /// stays silent for <see cref="WebSocketConnectionOptions.KeepAliveTimeout"/>. Anything at all from
    /// the peer counts as a sign of life, and so does data waiting for the application (a blocked read
    /// loop cannot see the pong).
    /// </summary>
    internal void HeartbeatTick(long now)
    {
        if (_state != (int)WebSocketState.Open) return;
        long sentAt = Volatile.Read(ref _heartbeatPingSentAt);
        if (sentAt != 0)
        {
            if (_deliveryBlocked || Volatile.Read(ref _lastReceived) > sentAt)
            {
                Volatile.Write(ref _heartbeatPingSentAt, 0);
            }
            else if (Stopwatch.GetElapsedTime(sentAt, now) >= _options.KeepAliveTimeout)
            {
                DuplexMetrics.HeartbeatTimeouts.Add(1);
                _logger.LogInformation(DuplexLogEvents.KeepAliveTimeout, "WebSocket {Id}: no answer {Timeout} after a keep-alive ping; dropping the connection", Id, _options.KeepAliveTimeout);
                _closeDescription ??= "keep-alive timeout";
                Abort();
            }
            return;
        }
        if (_deliveryBlocked || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now) < _options.KeepAliveInterval) return;
        Volatile.Write(ref _heartbeatPingSentAt, now);
        _ = SendKeepAlivePingAsync();
    }

    private async Task SendKeepAlivePingAsync()
    {
        try
        {
            // The round trip is recorded (LastRoundTripTime) when the pong comes; the tick judges silence.
            await PingAsync(default, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException or InvalidOperationException)
        {
        }
    }
}
