using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO;

/// <summary>Socket.IO server options (Engine.IO's included); defaults are the reference server's.</summary>
public sealed class SocketIOOptions : EngineIOOptions
{
    /// <summary>How long a new connection may take to join a namespace before it is closed. Default 45 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(45);

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
