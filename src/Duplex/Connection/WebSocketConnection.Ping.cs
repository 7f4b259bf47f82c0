using System.Diagnostics;
using Duplex.Protocol;

namespace Duplex;

// PingAsync and pong matching (RFC 6455 §5.5.2-3).
public sealed partial class WebSocketConnection
{
    private sealed record PendingPing(byte[] Payload, long Timestamp, TaskCompletionSource<TimeSpan> Pong);

    /// <summary>
    /// Sends a ping and waits for its pong (RFC 6455 §5.5.2); returns the round-trip time. A pong
    /// answering a later ping also answers this one (§5.5.3 lets a peer answer only the latest).
    /// </summary>
    public async Task<TimeSpan> PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > 125) throw new ArgumentException("A ping carries at most 125 bytes.", nameof(payload));
        return await PingCoreAsync(payload, cancellationToken, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A ping whose sending and whose wait for the pong are cancelled separately.</summary>
    private Task<TimeSpan> PingCoreAsync(ReadOnlyMemory<byte> payload, CancellationToken waitToken) => PingCoreAsync(payload, CancellationToken.None, waitToken);

    private async Task<TimeSpan> PingCoreAsync(ReadOnlyMemory<byte> payload, CancellationToken sendToken, CancellationToken waitToken)
    {
        byte[] data = payload.IsEmpty
            ? BitConverter.GetBytes(Interlocked.Increment(ref _pingCounter))
            : payload.ToArray();
        var pending = new PendingPing(data, Stopwatch.GetTimestamp(), new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_pendingPings) _pendingPings.Add(pending);
        try
        {
            await SendControlAsync(ControlFrame.Ping, data, null, null, sendToken).ConfigureAwait(false);
            return await pending.Pong.Task.WaitAsync(waitToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_pendingPings) _pendingPings.Remove(pending);
        }
    }

    private void CompletePings(ReadOnlySpan<byte> pongPayload)
    {
        if (Volatile.Read(ref _pendingPingsStorage) is null) return; // no ping of ours: an unsolicited pong
        lock (_pendingPings)
        {
            int match = -1;
            for (int i = 0; i < _pendingPings.Count; i++)
                if (pongPayload.SequenceEqual(_pendingPings[i].Payload)) match = i;
            // Unsolicited pongs (RFC 6455 §5.5.3) match nothing and are ignored.
            if (match < 0) return;
            long now = Stopwatch.GetTimestamp();
            LastRoundTripTime = Stopwatch.GetElapsedTime(_pendingPings[match].Timestamp, now);
            DuplexMetrics.PingRoundTrip.Record(LastRoundTripTime.Value.TotalMilliseconds);
            for (int i = 0; i <= match; i++)
                _pendingPings[i].Pong.TrySetResult(Stopwatch.GetElapsedTime(_pendingPings[i].Timestamp, now));
            _pendingPings.RemoveRange(0, match + 1);
        }
    }

    private void FailPendingPings()
    {
        if (Volatile.Read(ref _pendingPingsStorage) is null) return;
        lock (_pendingPings)
        {
            foreach (var p in _pendingPings)
                p.Pong.TrySetException(new WebSocketClosedException(State, _closeStatus, _closeDescription));
            _pendingPings.Clear();
        }
    }
}
