using System.Buffers;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Codec = Duplex.SocketIO.MsgPack;

namespace Duplex.SocketIO;

/// <summary>
/// How Socket.IO packets travel in Engine.IO messages: <see cref="Default"/> (socket.io-parser: a text
/// part, then one binary message per attachment) or <see cref="MsgPack"/> (socket.io-msgpack-parser: each
/// packet one binary MessagePack message). Server and client must use the same one; set it with
/// <c>SocketIOOptions.Parser</c> or <c>SocketIOClientOptions.Parser</c>. Either way event arguments read and
/// write as the same JSON model, <c>byte[]</c> parts as binary, so handlers do not change.
/// </summary>
public abstract class SocketIOParser
{
    private protected SocketIOParser()
    {
    }

    /// <summary>socket.io-parser, what the npm packages use unless told otherwise.</summary>
    public static SocketIOParser Default { get; } = new TextParser();

    /// <summary>
    /// socket.io-msgpack-parser (3.x, with notepack.io): each packet is one binary message holding the
    /// MessagePack map <c>{type, data, nsp, id}</c>, binary parts as bin. Integers travel as integers and
    /// other numbers as float 64, as notepack.io writes them.
    /// </summary>
    public static SocketIOParser MsgPack { get; } = new MessagePackParser();

    /// <summary>The parser's name: "default" or "msgpack".</summary>
    public abstract string Name { get; }

    /// <summary>The parser's <see cref="Name"/>.</summary>
    public override string ToString() => Name;

    /// <summary>0 for the default parser, 1 for msgpack: where a broadcast keeps each parser's form of its packet.</summary>
    internal abstract int Slot { get; }

    /// <summary>
    /// Whether <c>byte[]</c> in any packet travels as binary. socket.io-parser has binary only in EVENT and
    /// ACK (other packets are JSON.stringify'd, so bytes are base64 there); MessagePack has bin everywhere.
    /// </summary>
    internal abstract bool BinaryInEveryPacket { get; }

    /// <summary>
    /// The Engine.IO messages of a packet whose data is <paramref name="json"/> (empty: none), binary parts
    /// as placeholders into <paramref name="attachments"/>. <paramref name="writeAlone"/> marks the first
    /// message to go out in a WebSocket write of its own (the CONNECT answer).
    /// </summary>
    internal abstract EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, ReadOnlySpan<byte> json, List<byte[]> attachments, bool writeAlone);

    /// <summary>The Engine.IO messages of a decoded packet (one from another node, say).</summary>
    internal abstract EnginePacket[] Encode(SocketIOPacket packet);

    /// <summary>
    /// Feeds one Engine.IO message; <paramref name="partial"/> is the connection's packet still waiting for
    /// attachments (null when none). True with <paramref name="packet"/> set when a packet is complete, true
    /// with null while attachments are due, false with <paramref name="error"/> when the message is malformed.
    /// Never throws on bad input.
    /// </summary>
    internal abstract bool TryDecode(EnginePacket message, ref SocketIOPacket? partial, out SocketIOPacket? packet, out string? error);

    private static string Excerpt(string text) => text.Length > 80 ? text[..80] + "…" : text;

    /// <summary>socket.io-parser: <c>&lt;type&gt;[&lt;n&gt;-][&lt;nsp&gt;,][&lt;id&gt;][JSON]</c>, then the attachments.</summary>
    private sealed class TextParser : SocketIOParser
    {
        public override string Name => "default";
        internal override int Slot => 0;
        internal override bool BinaryInEveryPacket => false;

        internal override EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, ReadOnlySpan<byte> json, List<byte[]> attachments, bool writeAlone)
        {
            // The header and the JSON decoded straight into the one string the packet keeps.
            Span<char> header = stackalloc char[64];
            int headerLength = WriteHeader(header, type, nsp, id, attachments.Count);
            if (headerLength < 0) // a namespace too long for the header buffer: the general way
            {
                var text = Header(type, nsp, id, attachments.Count, json.Length);
                text.Append(Encoding.UTF8.GetString(json));
                return Messages(text.ToString(), attachments, writeAlone);
            }
            var parts = new TextParts(header[..headerLength], json);
            string packetText = string.Create(headerLength + Encoding.UTF8.GetCharCount(json), parts, static (span, p) =>
            {
                p.Header.CopyTo(span);
                Encoding.UTF8.GetChars(p.Json, span[p.Header.Length..]);
            });
            return Messages(packetText, attachments, writeAlone);
        }

        internal override EnginePacket[] Encode(SocketIOPacket packet)
        {
            var text = Header(packet.Type, packet.Namespace, packet.Id, packet.Attachments.Count, 64);
            if (packet.Data is { } json) text.Append(json.GetRawText());
            return Messages(text.ToString(), packet.Attachments, writeAlone: false);
        }

        private readonly ref struct TextParts(ReadOnlySpan<char> header, ReadOnlySpan<byte> json)
        {
            public readonly ReadOnlySpan<char> Header = header;
            public readonly ReadOnlySpan<byte> Json = json;
        }

        /// <summary>The header as <see cref="Header"/> writes it, into <paramref name="into"/>; -1 when it does not fit.</summary>
        private static int WriteHeader(Span<char> into, SocketIOPacketType type, string nsp, long? id, int attachments)
        {
            if (attachments > 0)
                type = type is SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck ? SocketIOPacketType.BinaryAck : SocketIOPacketType.BinaryEvent;
            else if (type == SocketIOPacketType.BinaryEvent) type = SocketIOPacketType.Event;
            else if (type == SocketIOPacketType.BinaryAck) type = SocketIOPacketType.Ack;
            into[0] = (char)('0' + (int)type);
            int n = 1, written;
            if (attachments > 0)
            {
                if (!attachments.TryFormat(into[n..], out written, default, System.Globalization.CultureInfo.InvariantCulture)) return -1;
                n += written;
                if (n >= into.Length) return -1;
                into[n++] = '-';
            }
            if (nsp != "/")
            {
                if (n + nsp.Length + 1 > into.Length) return -1;
                nsp.CopyTo(into[n..]);
                n += nsp.Length;
                into[n++] = ',';
            }
            if (id is long ackId)
            {
                if (!ackId.TryFormat(into[n..], out written, default, System.Globalization.CultureInfo.InvariantCulture)) return -1;
                n += written;
            }
            return n;
        }

        private static StringBuilder Header(SocketIOPacketType type, string nsp, long? id, int attachments, int dataLength)
        {
            // The type says whether attachments follow; whichever form the caller gave, it is made to agree.
            if (attachments > 0)
                type = type is SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck ? SocketIOPacketType.BinaryAck : SocketIOPacketType.BinaryEvent;
            else if (type == SocketIOPacketType.BinaryEvent) type = SocketIOPacketType.Event;
            else if (type == SocketIOPacketType.BinaryAck) type = SocketIOPacketType.Ack;

            var text = new StringBuilder(dataLength + 16);
            text.Append((char)('0' + (int)type));
            if (attachments > 0) text.Append(attachments).Append('-');
            if (nsp != "/") text.Append(nsp).Append(',');
            if (id is long ackId) text.Append(ackId);
            return text;
        }

        private static EnginePacket[] Messages(string text, IReadOnlyList<byte[]> attachments, bool writeAlone)
        {
            var packets = new EnginePacket[1 + attachments.Count];
            packets[0] = writeAlone ? EnginePacket.MessageWrittenAlone(text) : EnginePacket.Message(text);
            for (int i = 0; i < attachments.Count; i++) packets[i + 1] = EnginePacket.Message(attachments[i]);
            return packets;
        }

        internal override bool TryDecode(EnginePacket message, ref SocketIOPacket? partial, out SocketIOPacket? packet, out string? error)
        {
            packet = null;
            error = null;
            if (message.Binary is { } bytes)
            {
                if (partial is null)
                {
                    error = "a binary message arrived that no packet announced";
                    return false;
                }
                partial.Attachments.Add(bytes);
                if (!partial.IsComplete) return true;
                packet = partial;
                partial = null;
                return true;
            }
            if (partial is not null)
            {
                error = "a text packet arrived while attachments were still due";
                return false;
            }
            if (!SocketIOPacketParser.TryParse(message.Text!, out var parsed))
            {
                error = "not a Socket.IO packet: " + Excerpt(message.Text!);
                return false;
            }
            if (!parsed.IsComplete) partial = parsed;
            else packet = parsed;
            return true;
        }
    }

    /// <summary>socket.io-msgpack-parser: one MessagePack map <c>{type, data, nsp, id}</c> per binary message.</summary>
    private sealed class MessagePackParser : SocketIOParser
    {
        public override string Name => "msgpack";
        internal override int Slot => 1;
        internal override bool BinaryInEveryPacket => true;

        internal override EnginePacket[] Encode(SocketIOPacketType type, string nsp, long? id, ReadOnlySpan<byte> json, List<byte[]> attachments, bool writeAlone)
        {
            byte[] bytes;
            if (json.IsEmpty) bytes = Write(type, nsp, id, null, attachments);
            else
            {
                var reader = new Utf8JsonReader(json);
                using var document = JsonDocument.ParseValue(ref reader);
                bytes = Write(type, nsp, id, document.RootElement, attachments);
            }
            return [writeAlone ? EnginePacket.MessageWrittenAlone(bytes) : EnginePacket.Message(bytes)];
        }

        internal override EnginePacket[] Encode(SocketIOPacket packet) =>
            [EnginePacket.Message(Write(packet.Type, packet.Namespace, packet.Id, packet.Data, packet.Attachments))];

        private static byte[] Write(SocketIOPacketType type, string nsp, long? id, JsonElement? data, IReadOnlyList<byte[]> attachments)
        {
            // socket.io-msgpack-parser knows types 0–4 only: binary lives inside the data, not in the type.
            if (type == SocketIOPacketType.BinaryEvent) type = SocketIOPacketType.Event;
            else if (type == SocketIOPacketType.BinaryAck) type = SocketIOPacketType.Ack;
            var buffer = new ArrayBufferWriter<byte>(64 + attachments.Sum(a => a.Length));
            var w = new Codec.Writer(buffer);
            w.MapHeader(2 + (data is null ? 0 : 1) + (id is null ? 0 : 1));
            w.String("type");
            w.Int((int)type);
            if (data is { } json)
            {
                w.String("data");
                w.WriteJson(json, attachments, 1);
            }
            w.String("nsp");
            w.String(nsp);
            if (id is long ackId)
            {
                w.String("id");
                w.Int(ackId);
            }
            return w.ToArray();
        }

        internal override bool TryDecode(EnginePacket message, ref SocketIOPacket? partial, out SocketIOPacket? packet, out string? error)
        {
            packet = null;
            if (message.Binary is not { } bytes)
            {
                error = "a text message, where the msgpack parser has binary ones only: " + Excerpt(message.Text!);
                return false;
            }
            var attachments = new List<byte[]>();
            JsonElement map;
            try
            {
                map = Codec.ToJson(bytes, attachments);
            }
            catch (FormatException ex)
            {
                error = "not MessagePack: " + ex.Message;
                return false;
            }
            return TryRead(map, attachments, out packet, out error);
        }

        /// <summary>The checks socket.io-msgpack-parser makes (type, nsp, id), then the default parser's payload checks.</summary>
        private static bool TryRead(JsonElement map, List<byte[]> attachments, out SocketIOPacket? packet, out string? error)
        {
            packet = null;
            if (map.ValueKind != JsonValueKind.Object)
            {
                error = "a msgpack packet must be a map";
                return false;
            }
            if (!map.TryGetProperty("type", out var typeValue) || typeValue.ValueKind != JsonValueKind.Number || !typeValue.TryGetInt32(out int type)
                || type < (int)SocketIOPacketType.Connect || type > (int)SocketIOPacketType.ConnectError)
            {
                error = "invalid packet type";
                return false;
            }
            if (!map.TryGetProperty("nsp", out var nsp) || nsp.ValueKind != JsonValueKind.String)
            {
                error = "invalid namespace";
                return false;
            }
            long? id = null;
            if (map.TryGetProperty("id", out var idValue))
            {
                if (idValue.ValueKind != JsonValueKind.Number || !idValue.TryGetInt64(out long n))
                {
                    error = "invalid packet id";
                    return false;
                }
                id = n;
            }
            JsonElement? data = map.TryGetProperty("data", out var d) ? d : null;
            var kind = (SocketIOPacketType)type;
            if (!SocketIOPacketParser.IsPayloadValid(kind, data))
            {
                error = "invalid payload";
                return false;
            }
            // As the default parser reads them: an event or ack with binary parts is a BINARY_EVENT / BINARY_ACK.
            if (attachments.Count > 0 && kind == SocketIOPacketType.Event) kind = SocketIOPacketType.BinaryEvent;
            else if (attachments.Count > 0 && kind == SocketIOPacketType.Ack) kind = SocketIOPacketType.BinaryAck;
            packet = new SocketIOPacket { Type = kind, Namespace = nsp.GetString()!, Id = id, Data = data, AttachmentCount = attachments.Count };
            packet.Attachments.AddRange(attachments);
            error = null;
            return true;
        }
    }
}
