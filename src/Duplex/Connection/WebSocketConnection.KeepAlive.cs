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
    /// With no timeout (<see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/>) an
    /// unanswered ping is followed by another one an interval later, and the connection stays.
    internal void HeartbeatTick(long now)
    {
        if (_state != (int)WebSocketState.Open) return;
        if (_expiresAt != 0 && now >= _expiresAt)
        {
            DuplexMetrics.ConnectionsRetired.Add(1, new KeyValuePair<string, object?>("reason", "max lifetime"));
            _logger.LogInformation(DuplexLogEvents.MaxLifetime, "WebSocket {Id}: open for its maximum lifetime (up to {MaxLifetime}); closing with 1001", Id, _options.MaxLifetime);
            _ = CloseOnTickAsync("max lifetime");
            return;
        }
        if (_options.HasIdleTimeout && !_deliveryBlocked && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastMessage), now) >= _options.IdleTimeout)
        {
            DuplexMetrics.ConnectionsRetired.Add(1, new KeyValuePair<string, object?>("reason", "idle timeout"));
            _logger.LogInformation(DuplexLogEvents.IdleTimeout, "WebSocket {Id}: no message received for {IdleTimeout}; closing with 1001", Id, _options.IdleTimeout);
            _ = CloseOnTickAsync("idle timeout");
            return;
        }
        if (!_options.HasKeepAlive) return;
        long sentAt = Volatile.Read(ref _heartbeatPingSentAt);
        if (sentAt != 0)
        {
            if (_deliveryBlocked || Volatile.Read(ref _lastReceived) > sentAt)
            {
                Volatile.Write(ref _heartbeatPingSentAt, 0);
                return;
            }
            var unanswered = Stopwatch.GetElapsedTime(sentAt, now);
            if (_options.HasKeepAliveTimeout)
            {
                if (unanswered >= _options.KeepAliveTimeout)
                {
                    DuplexMetrics.HeartbeatTimeouts.Add(1);
                    _logger.LogInformation(DuplexLogEvents.KeepAliveTimeout, "WebSocket {Id}: no answer {Timeout} after a keep-alive ping; dropping the connection", Id, _options.KeepAliveTimeout);
                    _closeDescription ??= "keep-alive timeout";
                    Abort();
                }
                return;
            }
            // No timeout: the next ping is due an interval after the unanswered one.
            if (unanswered < _options.KeepAliveInterval) return;
        }
        else if (_deliveryBlocked || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now) < _options.KeepAliveInterval) return;
        Volatile.Write(ref _heartbeatPingSentAt, now);
        _ = SendKeepAlivePingAsync();
    }

    /// <summary>The Stopwatch timestamp at which <see cref="WebSocketConnectionOptions.MaxLifetime"/> (jittered) ends this connection; 0 when it has none.</summary>
    internal long ExpiresAt => _expiresAt;

    /// <summary>The idle timeout's or the lifetime's close: 1001 with <paramref name="reason"/>, bounded by the close timeout.</summary>
    private async Task CloseOnTickAsync(string reason)
    {
        try
        {
            await CloseAsync(Protocol.CloseStatus.GoingAway, reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException or InvalidOperationException)
        {
        }
    }

    private async Task SendKeepAlivePingAsync()
    {
        // Without a timeout a silent peer is pinged again every interval; each ping waits for its pong
        // one interval at most, so unanswered pings do not pile up (a later pong answers earlier pings).
        using var wait = _options.HasKeepAliveTimeout ? null : new CancellationTokenSource(_options.KeepAliveInterval);
        try
        {
            // The round trip is recorded (LastRoundTripTime) when the pong comes; the tick judges silence.
            await PingCoreAsync(default, wait?.Token ?? CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException or InvalidOperationException)
        {
        }
    }
}
