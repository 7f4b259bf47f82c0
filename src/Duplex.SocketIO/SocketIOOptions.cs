using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO;

/// <summary>Socket.IO server options (Engine.IO's included); defaults are the reference server's.</summary>
public sealed class SocketIOOptions : EngineIOOptions
{
    /// <summary>How long a new connection may take to join a namespace before it is closed. Default 45 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Whether a dynamic namespace's child (see <see cref="SocketIOServer.Of(Func{string, bool})"/>) is
    /// removed once it has no sockets and no connection on its way in — when its last socket leaves, or
    /// when the connection that created it is refused — and its adapter released (with the Redis adapter,
    /// its subscriptions); the next connection to the name creates it anew (and raises
    /// <see cref="SocketIOServer.OnNewNamespace"/> again). The reference's
    /// <c>cleanupEmptyChildNamespaces</c>. Default false: children stay for the server's lifetime.
    /// </summary>
    public bool CleanupEmptyChildNamespaces { get; set; }

    /// <summary>
    /// How event arguments are (de)serialized. Default: System.Text.Json's web defaults (camelCase,
    /// case-insensitive reads), as JavaScript peers expect. <c>byte[]</c> always travels as attachments.
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// How packets are written on the wire and read from it: <see cref="SocketIOParser.Default"/>
    /// (socket.io-parser, the default) or <see cref="SocketIOParser.MsgPack"/> (socket.io-msgpack-parser:
    /// clients must use it too, as with Node's <c>parser</c> option). Handlers see the same JSON arguments
    /// either way.
    /// </summary>
    public SocketIOParser Parser { get; set => field = value ?? throw new ArgumentNullException(nameof(value)); } = SocketIOParser.Default;
}
