using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// Parses the text part of Socket.IO v5 packets:
/// <c>&lt;type&gt;[&lt;attachments&gt;-][&lt;namespace&gt;,][&lt;ack id&gt;][&lt;JSON data&gt;]</c>, and checks
/// the data is of the shape the type requires, as the reference parser does. No I/O.
/// </summary>
public static class SocketIOPacketParser
{
    /// <summary>More attachments than this is treated as a malformed packet.</summary>
    public const int MaxAttachments = 1000;

    /// <summary>
    /// Parses the text part of a packet; false when it is malformed: an unknown type digit, a bad attachment
    /// count (or more than <see cref="MaxAttachments"/>), an ack id of more than 15 digits, invalid JSON, or
    /// data of the wrong shape for the type (an event's must be an array that starts with its name, which may
    /// not be a reserved one such as <c>connect</c> or <c>disconnect</c>). A binary packet comes back with no
    /// <see cref="SocketIOPacket.Attachments"/> yet.
    /// </summary>
    public static bool TryParse(string text, out SocketIOPacket packet)
    {
        packet = null!;
        if (text.Length == 0) return false;
        int type = text[0] - '0';
        if (type < 0 || type > (int)SocketIOPacketType.BinaryAck) return false;
        var kind = (SocketIOPacketType)type;
        int i = 1;

        int attachments = 0;
        if (kind is SocketIOPacketType.BinaryEvent or SocketIOPacketType.BinaryAck)
        {
            int start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            if (i == start || i >= text.Length || text[i] != '-' || i - start > 4) return false;
            attachments = int.Parse(text.AsSpan(start, i - start));
            if (attachments > MaxAttachments) return false;
            i++;
        }

        string nsp = "/";
        if (i < text.Length && text[i] == '/')
        {
            int comma = text.IndexOf(',', i);
            int end = comma < 0 ? text.Length : comma;
            nsp = text[i..end];
            i = comma < 0 ? text.Length : comma + 1;
        }

        long? id = null;
        if (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            int start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            if (i - start > 15) return false;
            id = long.Parse(text.AsSpan(start, i - start));
        }

        JsonElement? data = null;
        if (i < text.Length)
        {
            // Into UTF-8 in a pooled buffer, then one value read into an element of its own (no document
            // to clone and dispose); anything but whitespace after it is malformed, as for JsonDocument.Parse.
            var json = text.AsSpan(i);
            int max = Encoding.UTF8.GetMaxByteCount(json.Length);
            byte[]? rented = max > 1024 ? ArrayPool<byte>.Shared.Rent(max) : null;
            Span<byte> utf8 = rented ?? stackalloc byte[1024];
            try
            {
                utf8 = utf8[..Encoding.UTF8.GetBytes(json, utf8)];
                var reader = new Utf8JsonReader(utf8);
                data = JsonElement.ParseValue(ref reader);
                if (reader.Read()) return false;
            }
            catch (JsonException)
            {
                return false;
            }
            finally
            {
                if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            }
        }

        if (!IsPayloadValid(kind, data)) return false;
        packet = new SocketIOPacket { Type = kind, Namespace = nsp, Id = id, Data = data, AttachmentCount = attachments };
        return true;
    }

    /// <summary>Whether <paramref name="data"/> (null: none) has the shape <paramref name="type"/> requires; the msgpack parser checks the same.</summary>
    internal static bool IsPayloadValid(SocketIOPacketType type, JsonElement? data) => type switch
    {
        SocketIOPacketType.Connect => data is null || data.Value.ValueKind == JsonValueKind.Object,
        SocketIOPacketType.Disconnect => data is null,
        SocketIOPacketType.ConnectError => data is { ValueKind: JsonValueKind.Object or JsonValueKind.String },
        SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent =>
            data is { ValueKind: JsonValueKind.Array } array && array.GetArrayLength() > 0 &&
            (array[0].ValueKind == JsonValueKind.Number ||
             array[0].ValueKind == JsonValueKind.String && !IsReservedEventName(array[0])),
        SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck => data is { ValueKind: JsonValueKind.Array },
        _ => false,
    };

    // socket.io-parser refuses reserved names in an incoming event ("invalid payload"), so the connection is
    // closed as for any malformed packet: accepted, a peer's "disconnect" would reach the On("disconnect")
    // and OnAny handlers of an application written as for Node.
    private static bool IsReservedEventName(JsonElement name) => ReservedEventNames.Contains(name);
}
