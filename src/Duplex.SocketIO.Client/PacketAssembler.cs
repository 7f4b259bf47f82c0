using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// Turns Engine.IO messages into Socket.IO packets with the client's parser: with the default one it
/// parses the text part and gathers the binary attachments a BINARY_EVENT / BINARY_ACK announced.
/// Not thread-safe (one reading loop feeds it).
/// </summary>
internal sealed class PacketAssembler(SocketIOParser parser)
{
    private SocketIOPacket? _partial;

    /// <summary>An assembler for the default parser.</summary>
    public PacketAssembler() : this(SocketIOParser.Default)
    {
    }

    /// <summary>
    /// Feeds one message. Returns true with <paramref name="packet"/> set when a packet is complete,
    /// true with null while attachments are still due, false when the message is malformed here
    /// (binary nobody announced, text while attachments are due, or a packet that does not parse).
    /// </summary>
    public bool TryAdd(EnginePacket message, out SocketIOPacket? packet, out string? error) =>
        parser.TryDecode(message, ref _partial, out packet, out error);

    public void Reset() => _partial = null;
}
