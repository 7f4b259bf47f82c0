namespace Duplex.SocketIO.Adapters;

/// <summary>
/// Connection state recovery (the reference's <c>connectionStateRecovery</c>): a client that comes back
/// within <see cref="MaxDisconnectionDuration"/> after losing its connection gets its socket id, rooms
/// and data back, and the packets it missed. Every event sent without an ack then carries an offset as
/// its last argument, which the client hands back when it reconnects. Kept by the in-memory adapter.
/// </summary>
public sealed class ConnectionStateRecoveryOptions
{
    /// <summary>How long a disconnected session and the packets sent meanwhile are kept. Default 2 minutes.</summary>
    public TimeSpan MaxDisconnectionDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Whether a recovered socket skips the namespace's middleware. Default true.</summary>
    public bool SkipMiddlewares { get; set; } = true;

    /// <summary>
    /// At most this many packets are kept for recovery per namespace (oldest dropped first); a client whose
    /// offset was dropped connects afresh. Default 100 000.
    /// </summary>
    public int MaxStoredPackets { get; set; } = 100_000;
}

/// <summary>What a disconnected socket leaves for its recovery: id, private id, rooms and data.</summary>
public sealed record SocketSession(string Sid, string Pid, IReadOnlyCollection<string> Rooms, System.Collections.Concurrent.ConcurrentDictionary<string, object?> Data);

/// <summary>A session being recovered, with the packets its client missed (each ending with its offset).</summary>
public sealed record RestoredSession(SocketSession Session, IReadOnlyList<BroadcastPacket> MissedPackets);
