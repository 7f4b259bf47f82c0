using System.Threading.Channels;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// One way an <see cref="EngineIOClientSession"/> reaches its server: HTTP long-polling
/// (<see cref="PollingClientTransport"/>) or a WebSocket (<see cref="WebSocketClientTransport"/>). A
/// transport owns only its own I/O; the session owns the outgoing queue, the heartbeat and the close, and
/// swaps its transport once, from polling to WebSocket, when an upgrade completes.
/// </summary>
internal abstract class EngineIOClientTransport
{
    protected EngineIOClientTransport(EngineIOClientSession session) => Session = session;

    /// <summary>The session this transport carries.</summary>
    protected EngineIOClientSession Session { get; }

    /// <summary>The transport's name on the wire: the <c>transport</c> query parameter.</summary>
    public abstract string Name { get; }

    /// <summary>Starts handing what the server sends to the session, until the transport or the session ends.</summary>
    public abstract void Start();

    /// <summary>
    /// Sends what <paramref name="queued"/> holds now (at least one packet). Throws when the transport
    /// failed; the session then closes with "transport error".
    /// </summary>
    public abstract Task SendQueuedAsync(ChannelReader<EnginePacket> queued, CancellationToken cancellationToken);

    /// <summary>Lets go of the transport's connection once the session is over.</summary>
    public abstract void Release();
}
