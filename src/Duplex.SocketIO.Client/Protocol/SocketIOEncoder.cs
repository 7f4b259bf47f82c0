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
    public static EnginePacket[] Event(string nsp, string eventName, IReadOnlyList<object?> args, long? id, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.Event, nsp, id, writer =>
        {
            writer.WriteStartArray();
            writer.WriteStringValue(eventName);
            foreach (var arg in args) WriteValue(writer, arg, options);
            writer.WriteEndArray();
        });

    public static EnginePacket[] Ack(string nsp, long id, IReadOnlyList<object?> args, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.Ack, nsp, id, writer =>
        {
            writer.WriteStartArray();
            foreach (var arg in args) WriteValue(writer, arg, options);
            writer.WriteEndArray();
        });

    public static EnginePacket[] Connect(string nsp, string sid)
    {
        var text = Encode(SocketIOPacketType.Connect, nsp, null, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("sid", sid);
            writer.WriteEndObject();
        })[0].Text!;
        return [EnginePacket.MessageWrittenAlone(text)];
    }

    public static EnginePacket[] ConnectError(string nsp, string message, object? data, JsonSerializerOptions options) =>
        Encode(SocketIOPacketType.ConnectError, nsp, null, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("message", message);
            if (data is not null)
            {
                writer.WritePropertyName("data");
                WriteValue(writer, data, options);
            }
            writer.WriteEndObject();
        });

    public static EnginePacket[] Disconnect(string nsp) => Encode(SocketIOPacketType.Disconnect, nsp, null, null);

    private static void WriteValue(Utf8JsonWriter writer, object? value, JsonSerializerOptions options)
    {
        SocketIOJson.Write(writer, value, options);
    }

    private static EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, Action<Utf8JsonWriter>? writeData)
    {
        var attachments = new List<byte[]>();
        var json = new ArrayBufferWriter<byte>(256);
        if (writeData is not null)
        {
            using var collecting = BinaryPlaceholderConverter.Collect(attachments);
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
