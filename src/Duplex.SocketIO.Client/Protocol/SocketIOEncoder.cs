using System.Buffers;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO;

/// <summary>
/// Encodes Socket.IO packets into the Engine.IO message packets that carry them: with the default
/// parser the text part, then one binary message per attachment; with the msgpack parser one binary
/// message (see <see cref="SocketIOParser"/>). The result is immutable, so a broadcast encodes once and hands
/// the same packets (and their cached frames) to every recipient.
/// </summary>
public static class SocketIOEncoder
{
    /// <summary>
    /// Encodes an EVENT <c>[eventName, ...args]</c> for namespace <paramref name="nsp"/>, asking for an
    /// acknowledgement numbered <paramref name="id"/> when it is set. Arguments are serialized with
    /// <paramref name="options"/>: with the options Duplex's server and client prepare, <c>byte[]</c> parts become
    /// attachments (a BINARY_EVENT, then one binary message each); other options write them as base64 strings.
    /// Reserved event names are not checked here. Written as <see cref="SocketIOParser.Default"/> writes it.
    /// </summary>
    public static EnginePacket[] Event(string nsp, string eventName, IReadOnlyList<object?> args, long? id, JsonSerializerOptions options) =>
        Event(SocketIOParser.Default, nsp, eventName, args, id, options);

    /// <summary>As <see cref="Event(string, string, IReadOnlyList{object?}, long?, JsonSerializerOptions)"/>, written by <paramref name="parser"/>.</summary>
    internal static EnginePacket[] Event(SocketIOParser parser, string nsp, string eventName, IReadOnlyList<object?> args, long? id, JsonSerializerOptions options) =>
        Encode(parser, SocketIOPacketType.Event, nsp, id, writer =>
        {
            writer.WriteStartArray();
            writer.WriteStringValue(eventName);
            for (int i = 0; i < args.Count; i++) SocketIOJson.Write(writer, args[i], options);
            writer.WriteEndArray();
        });

    /// <summary>
    /// Encodes an ACK <c>[...args]</c> answering the event numbered <paramref name="id"/> in
    /// <paramref name="nsp"/>; binary parts as in <see cref="Event(string, string, IReadOnlyList{object?}, long?, JsonSerializerOptions)"/> (then a BINARY_ACK).
    /// </summary>
    public static EnginePacket[] Ack(string nsp, long id, IReadOnlyList<object?> args, JsonSerializerOptions options) =>
        Ack(SocketIOParser.Default, nsp, id, args, options);

    /// <summary>As <see cref="Ack(string, long, IReadOnlyList{object?}, JsonSerializerOptions)"/>, written by <paramref name="parser"/>.</summary>
    internal static EnginePacket[] Ack(SocketIOParser parser, string nsp, long id, IReadOnlyList<object?> args, JsonSerializerOptions options) =>
        Encode(parser, SocketIOPacketType.Ack, nsp, id, writer =>
        {
            writer.WriteStartArray();
            for (int i = 0; i < args.Count; i++) SocketIOJson.Write(writer, args[i], options);
            writer.WriteEndArray();
        });

    /// <summary>
    /// Encodes the server's CONNECT answer <c>{"sid":…}</c>, admitting a client to <paramref name="nsp"/> as
    /// socket <paramref name="sid"/>. As from the reference server, what is queued after it goes out over
    /// WebSocket in a later write.
    /// </summary>
    public static EnginePacket[] Connect(string nsp, string sid) => Connect(SocketIOParser.Default, nsp, sid, pid: null);

    /// <summary>
    /// The CONNECT answer, with connection state recovery's private session id <paramref name="pid"/> when
    /// set (<c>{"sid":…,"pid":…}</c>); written alone either way, as <see cref="Connect(string, string)"/> says.
    /// </summary>
    internal static EnginePacket[] Connect(SocketIOParser parser, string nsp, string sid, string? pid) =>
        Encode(parser, SocketIOPacketType.Connect, nsp, null, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("sid", sid);
            if (pid is not null) writer.WriteString("pid", pid);
            writer.WriteEndObject();
        }, writeAlone: true);

    /// <summary>A client's CONNECT to <paramref name="nsp"/>, with its <c>auth</c> payload <paramref name="data"/> when set.</summary>
    internal static EnginePacket[] ClientConnect(SocketIOParser parser, string nsp, System.Text.Json.Nodes.JsonObject? data) =>
        Encode(parser, SocketIOPacketType.Connect, nsp, null, data is null ? null : writer => data.WriteTo(writer));

    /// <summary>
    /// Encodes a CONNECT_ERROR refusing a client's join of <paramref name="nsp"/>:
    /// <c>{"message":…,"data":…}</c>, the npm client's <c>err.message</c> and <c>err.data</c>; <c>data</c> is
    /// left out when <paramref name="data"/> is null. Always one text packet: CONNECT_ERROR has no binary
    /// form, so <c>byte[]</c> parts of <paramref name="data"/> are written as base64 strings.
    /// </summary>
    public static EnginePacket[] ConnectError(string nsp, string message, object? data, JsonSerializerOptions options) =>
        ConnectError(SocketIOParser.Default, nsp, message, data, options);

    /// <summary>
    /// As <see cref="ConnectError(string, string, object?, JsonSerializerOptions)"/>, written by
    /// <paramref name="parser"/> (with the msgpack parser, <c>byte[]</c> parts are bin).
    /// </summary>
    internal static EnginePacket[] ConnectError(SocketIOParser parser, string nsp, string message, object? data, JsonSerializerOptions options) =>
        Encode(parser, SocketIOPacketType.ConnectError, nsp, null, writer =>
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
    public static EnginePacket[] Disconnect(string nsp) => Disconnect(SocketIOParser.Default, nsp);

    /// <summary>As <see cref="Disconnect(string)"/>, written by <paramref name="parser"/>.</summary>
    internal static EnginePacket[] Disconnect(SocketIOParser parser, string nsp) => Encode(parser, SocketIOPacketType.Disconnect, nsp, null, null);

    private static EnginePacket[] Encode(SocketIOParser parser, SocketIOPacketType type, string nsp, long? id, Action<Utf8JsonWriter>? writeData, bool writeAlone = false)
    {
        // The JSON buffer, its writer and the attachment list are the thread's, reused packet after packet;
        // an encode that runs inside another (a converter that emits) gets its own.
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        try
        {
            if (writeData is not null)
            {
                // socket.io-parser has a binary form for EVENT and ACK only; every other packet is
                // JSON.stringify'd whole, so its binary stays in the JSON (here: base64, System.Text.Json's
                // form of byte[]) rather than becoming attachments of a packet no client could parse.
                // MessagePack has bin anywhere.
                using var collecting = parser.BinaryInEveryPacket || type is SocketIOPacketType.Event or SocketIOPacketType.Ack
                    ? BinaryPlaceholderConverter.Collect(scratch.Attachments)
                    : BinaryPlaceholderConverter.Inline();
                scratch.Writer.Reset(scratch.Json);
                writeData(scratch.Writer);
                scratch.Writer.Flush();
            }
            return parser.Encode(type, nsp, id, scratch.Json.WrittenSpan, scratch.Attachments, writeAlone);
        }
        finally
        {
            scratch.Clear();
            t_scratch = scratch;
        }
    }

    [ThreadStatic] private static Scratch? t_scratch;

    private sealed class Scratch
    {
        private const int KeptCapacity = 64 * 1024;
        public ArrayBufferWriter<byte> Json = new(256);
        public readonly Utf8JsonWriter Writer = new(Stream.Null);
        public readonly List<byte[]> Attachments = [];

        public void Clear()
        {
            Writer.Reset(Stream.Null);
            Attachments.Clear();
            // A large packet's buffer is not kept for the thread's life.
            if (Json.Capacity > KeptCapacity) Json = new ArrayBufferWriter<byte>(256);
            else Json.ResetWrittenCount();
        }
    }
}
