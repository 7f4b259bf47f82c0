using System.Text;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// Writes a Socket.IO packet whose data is already JSON (binary parts as
/// <c>{"_placeholder":true,"num":N}</c>) into the Engine.IO messages that carry it: the text part,
/// then one binary message per attachment. Used for packets that arrive from other nodes.
/// </summary>
internal static class PacketEncoding
{
    public static EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, JsonElement? data, IReadOnlyList<byte[]> attachments)
    {
        if (attachments.Count > 0)
            type = type is SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck ? SocketIOPacketType.BinaryAck : SocketIOPacketType.BinaryEvent;
        else if (type == SocketIOPacketType.BinaryEvent) type = SocketIOPacketType.Event;
        else if (type == SocketIOPacketType.BinaryAck) type = SocketIOPacketType.Ack;

        var text = new StringBuilder(64);
        text.Append((char)('0' + (int)type));
        if (attachments.Count > 0) text.Append(attachments.Count).Append('-');
        if (nsp != "/") text.Append(nsp).Append(',');
        if (id is long ackId) text.Append(ackId);
        if (data is { } json) text.Append(json.GetRawText());

        var packets = new EnginePacket[1 + attachments.Count];
        packets[0] = EnginePacket.Message(text.ToString());
        for (int i = 0; i < attachments.Count; i++) packets[i + 1] = EnginePacket.Message(attachments[i]);
        return packets;
    }
}
