using System.Diagnostics;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// One way an <see cref="EngineIOSession"/> reaches its client: HTTP long-polling
/// (<see cref="PollingTransport"/>) or a WebSocket (<see cref="WebSocketTransport"/>). A transport owns
/// only its own I/O; the session owns the packets waiting to go out, the heartbeat and the close, and
/// swaps its transport once, from polling to WebSocket, when an upgrade completes.
/// </summary>
/// <remarks>
/// Transports take packets from the session's buffer rather than being handed them: a packet queued
/// while a poll is being answered, or while the upgrade commits, must land in exactly one response or
/// frame. So the session and its transports share one lock, <see cref="EngineIOSession.Gate"/>; members
/// whose names end in <c>Locked</c> are called with it held.
/// </remarks>
internal abstract class EngineTransport
{
    protected EngineTransport(EngineIOSession session) => Session = session;

    /// <summary>The session this transport carries.</summary>
    protected EngineIOSession Session { get; }

    /// <summary>The transport's name on the wire: the <c>transport</c> query parameter.</summary>
    public abstract string Name { get; }

    /// <summary>True when a packet queued now would go out without waiting for the client.</summary>
    public abstract bool IsWritableLocked { get; }

    /// <summary>
    /// Takes the signal of whoever waits for packets on this transport (a pending poll, the WebSocket
    /// writer), to be set once the lock is released; the default (no one) when nobody waits.
    /// </summary>
    public abstract TransportWake TakeWakeLocked();

    /// <summary>
    /// True when a session closing now should stay findable until this transport's next request
    /// carries the last packets out (a polling session with no poll in hand).
    /// </summary>
    public abstract bool DefersCloseLocked { get; }

    [Conditional("DEBUG")]
    protected void AssertLockHeld() => Debug.Assert(Monitor.IsEntered(Session.Gate), "the session's lock must be held");
}
