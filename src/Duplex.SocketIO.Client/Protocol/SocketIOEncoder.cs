using System.Buffers;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO;

/// <summary>
/// Encodes Socket.IO packets into the Engine.IO message packets that carry them: the text part, then
/// one binary message per attachment. The result is immutable, so a broadcast encodes once and hands
/// the same packets (and their cached frames) to every recipient.
/// </summary>
public static class SocketIOEncoder
{
    /// <summary>
    /// Encodes an EVENT <c>[eventName, ...args]</c> for namespace <paramref name="nsp"/>, asking for an
    /// acknowledgement numbered <paramref name="id"/> when it is set. Arguments are serialized with
    /// <paramref name="options"/>: with the options Duplex's server and client prepare, <c>byte[]</c> parts become
    /// attachments (a BINARY_EVENT, then one binary message each); other options write them as base64 strings.
    /// Reserved event names are not checked here.
    /// </summary>
    public static EnginePacket[] Event(string nsp, string eventName, IReadOnlyList<object?> args, long? id, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.Event, nsp, id, writer =>
        {
            writer.WriteStartArray();
            writer.WriteStringValue(eventName);
            foreach (var arg in args) SocketIOJson.Write(writer, arg, options);
            writer.WriteEndArray();
        });

    /// <summary>
    /// Encodes an ACK <c>[...args]</c> answering the event numbered <paramref name="id"/> in
    /// <paramref name="nsp"/>; binary parts as in <see cref="Event"/> (then a BINARY_ACK).
    /// </summary>
    public static EnginePacket[] Ack(string nsp, long id, IReadOnlyList<object?> args, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.Ack, nsp, id, writer =>
        {
            writer.WriteStartArray();
            foreach (var arg in args) SocketIOJson.Write(writer, arg, options);
            writer.WriteEndArray();
        });

    /// <summary>
    /// Encodes the server's CONNECT answer <c>{"sid":…}</c>, admitting a client to <paramref name="nsp"/> as
    /// socket <paramref name="sid"/>. As from the reference server, what is queued after it goes out over
    /// WebSocket in a later write.
    /// </summary>
    public static EnginePacket[] Connect(string nsp, string sid) => Connect(nsp, sid, pid: null);

    /// <summary>
    /// The CONNECT answer, with connection state recovery's private session id <paramref name="pid"/> when
    /// set (<c>{"sid":…,"pid":…}</c>); written alone either way, as <see cref="Connect(string, string)"/> says.
    /// </summary>
    internal static EnginePacket[] Connect(string nsp, string sid, string? pid)
    {
        var text = Encode(SocketIOPacketType.Connect, nsp, null, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("sid", sid);
            if (pid is not null) writer.WriteString("pid", pid);
            writer.WriteEndObject();
        })[0].Text!;
        return [EnginePacket.MessageWrittenAlone(text)];
    }

    /// <summary>
    /// Encodes a CONNECT_ERROR refusing a client's join of <paramref name="nsp"/>:
    /// <c>{"message":…,"data":…}</c>, the npm client's <c>err.message</c> and <c>err.data</c>; <c>data</c> is
    /// left out when <paramref name="data"/> is null. Always one text packet: CONNECT_ERROR has no binary
    /// form, so <c>byte[]</c> parts of <paramref name="data"/> are written as base64 strings.
    /// </summary>
    public static EnginePacket[] ConnectError(string nsp, string message, object? data, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.ConnectError, nsp, null, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("message", message);
            if (data is not null)
            {
                writer.WritePropertyName("data");
                SocketIOJson.Write(writer, data, options);
            }
            writer.WriteEndObject();
        });

    /// <summary>
    /// Encodes a DISCONNECT for <paramref name="nsp"/>: from a client it leaves the namespace; from the server
    /// it puts the client out (the npm client's "io server disconnect").
    /// </summary>
    public static EnginePacket[] Disconnect(string nsp) => Encode(SocketIOPacketType.Disconnect, nsp, null, null);

    private static EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, Action<Utf8JsonWriter>? writeData)
    {
        var attachments = new List<byte[]>();
        var json = new ArrayBufferWriter<byte>(256);
        if (writeData is not null)
        {
            // Only EVENT and ACK have a binary form (socket.io-parser's Encoder); every other packet is
            // JSON.stringify'd whole, so its binary stays in the JSON (here: base64, System.Text.Json's
            // form of byte[]) rather than becoming attachments of a packet no client could parse.
            using var collecting = type is SocketIOPacketType.Event or SocketIOPacketType.Ack
                ? BinaryPlaceholderConverter.Collect(attachments)
                : BinaryPlaceholderConverter.Inline();
            using var writer = new Utf8JsonWriter(json);
            writeData(writer);
        }
        if (attachments.Count > 0)
            type = type == SocketIOPacketType.Ack ? SocketIOPacketType.BinaryAck : SocketIOPacketType.BinaryEvent;

        var text = new StringBuilder(json.WrittenCount + 16);
        text.Append((char)('0' + (int)type));
        if (attachments.Count > 0) text.Append(attachments.Count).Append('-');
        if (nsp != "/") text.Append(nsp).Append(',');
        if (id is long ackId) text.Append(ackId);
        text.Append(Encoding.UTF8.GetString(json.WrittenSpan));

        var packets = new EnginePacket[1 + attachments.Count];
        packets[0] = EnginePacket.Message(text.ToString());
        for (int i = 0; i < attachments.Count; i++) packets[i + 1] = EnginePacket.Message(attachments[i]);
        return packets;
    }
}
