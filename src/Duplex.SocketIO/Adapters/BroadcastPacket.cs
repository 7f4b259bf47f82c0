using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// A packet on its way to many sockets, in both forms an adapter may need: the encoded Engine.IO
/// messages local sockets are handed (made once, shared by every recipient), and the decoded
/// Socket.IO packet (type, namespace, JSON data with placeholders, attachments) an adapter ships to
/// other nodes. Whichever form it was made from, the other is made on first use.
/// </summary>
public sealed class BroadcastPacket
{
    private EnginePacket[]? _encoded;
    private SocketIOPacket? _packet;

    private BroadcastPacket(EnginePacket[]? encoded, SocketIOPacket? packet)
    {
        _encoded = encoded;
        _packet = packet;
    }

    /// <summary>From the messages <see cref="SocketIOEncoder"/> made (text part first, then attachments).</summary>
    public static BroadcastPacket FromEncoded(EnginePacket[] encoded)
    {
        if (encoded.Length == 0 || encoded[0].Text is null) throw new ArgumentException("the first message must be the packet's text part", nameof(encoded));
        return new BroadcastPacket(encoded, null);
    }

    /// <summary>From a decoded packet, e.g. one received from another node.</summary>
    public static BroadcastPacket FromPacket(SocketIOPacket packet) => new(null, packet);

    /// <summary>
    /// The Engine.IO messages local sockets are handed, shared by all of them: the text part, then one binary
    /// message per attachment. Encoded from <see cref="Packet"/> on first use when made from a decoded packet.
    /// </summary>
    public EnginePacket[] Encoded => _encoded ??= PacketEncoding.Encode(Packet.Type, Packet.Namespace, Packet.Id, Packet.Data, Packet.Attachments);

    /// <summary>
    /// The decoded Socket.IO packet (JSON data with placeholders, and its attachments), as an adapter ships it
    /// to other nodes; parsed from <see cref="Encoded"/> on first use. Shared: treat it as read-only.
    /// </summary>
    public SocketIOPacket Packet => _packet ??= Decode(_encoded!);

    private static SocketIOPacket Decode(EnginePacket[] encoded)
    {
        if (!SocketIOPacketParser.TryParse(encoded[0].Text!, out var packet))
            throw new InvalidOperationException("the encoder made a packet its parser does not read: " + encoded[0].Text);
        for (int i = 1; i < encoded.Length; i++) packet.Attachments.Add(encoded[i].Binary!);
        return packet;
    }

    /// <summary>The same packet with acknowledgement id <paramref name="id"/> (each node numbers its own acks).</summary>
    public BroadcastPacket WithId(long id)
    {
        var p = Packet;
        var copy = new SocketIOPacket { Type = p.Type, Namespace = p.Namespace, Id = id, Data = p.Data, AttachmentCount = p.AttachmentCount };
        copy.Attachments.AddRange(p.Attachments);
        return FromPacket(copy);
    }
}
