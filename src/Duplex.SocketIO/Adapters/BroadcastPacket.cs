using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// A packet on its way to many sockets, in both forms an adapter may need: the encoded Engine.IO
/// messages local sockets are handed (made once per parser, shared by every recipient), and the decoded
/// Socket.IO packet (type, namespace, JSON data with placeholders, attachments) an adapter ships to
/// other nodes. Whichever form it was made from, the other is made on first use.
/// </summary>
public sealed class BroadcastPacket
{
    // Each parser's encoded form, by SocketIOParser.Slot: made once, then shared by every recipient.
    private readonly EnginePacket[]?[] _encoded = new EnginePacket[]?[2];
    private SocketIOPacket? _packet;

    private BroadcastPacket(SocketIOParser? parser, EnginePacket[]? encoded, SocketIOPacket? packet)
    {
        if (parser is not null) _encoded[parser.Slot] = encoded;
        _packet = packet;
    }

    /// <summary>From the messages <see cref="SocketIOEncoder"/> made (text part first, then attachments), as the default parser writes them.</summary>
    public static BroadcastPacket FromEncoded(EnginePacket[] encoded)
    {
        if (encoded.Length == 0 || encoded[0].Text is null) throw new ArgumentException("the first message must be the packet's text part", nameof(encoded));
        return new BroadcastPacket(SocketIOParser.Default, encoded, null);
    }

    /// <summary>From the messages <paramref name="parser"/> wrote.</summary>
    internal static BroadcastPacket FromEncoded(EnginePacket[] encoded, SocketIOParser parser) => new(parser, encoded, null);

    /// <summary>From a decoded packet, e.g. one received from another node.</summary>
    public static BroadcastPacket FromPacket(SocketIOPacket packet) => new(null, null, packet);

    /// <summary>
    /// The Engine.IO messages of the default parser (<see cref="SocketIOParser.Default"/>), shared by every
    /// recipient: the text part, then one binary message per attachment. Encoded from <see cref="Packet"/> on
    /// first use when made from a decoded packet or by another parser.
    /// </summary>
    public EnginePacket[] Encoded => EncodedWith(SocketIOParser.Default);

    /// <summary>The Engine.IO messages <paramref name="parser"/> writes for this packet, made on first use and shared.</summary>
    internal EnginePacket[] EncodedWith(SocketIOParser parser) => _encoded[parser.Slot] ??= parser.Encode(Packet);

    /// <summary>
    /// The decoded Socket.IO packet (JSON data with placeholders, and its attachments), as an adapter ships it
    /// to other nodes; parsed from the encoded form on first use. Shared: treat it as read-only.
    /// </summary>
    public SocketIOPacket Packet => _packet ??= Decode();

    private SocketIOPacket Decode()
    {
        var parser = _encoded[SocketIOParser.Default.Slot] is not null ? SocketIOParser.Default : SocketIOParser.MsgPack;
        var encoded = _encoded[parser.Slot]!;
        SocketIOPacket? partial = null, packet = null;
        foreach (var message in encoded)
            if (!parser.TryDecode(message, ref partial, out packet, out var error))
                throw new InvalidOperationException($"the encoder made a packet its {parser} parser does not read: {error}");
        return packet ?? throw new InvalidOperationException("the encoded packet is missing attachments");
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
