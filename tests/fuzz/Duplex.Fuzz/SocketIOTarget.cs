using System.Text;
using System.Text.Json;
using Duplex.SocketIO;
using Duplex.SocketIO.EngineIO;

namespace Duplex.Fuzz;

/// <summary>
/// The Socket.IO packet parsers and binary reassembly: a connection's Engine.IO messages fed one by one to
/// <c>SocketIOParser.TryDecode</c> (socket.io-parser's text part and attachments, or socket.io-msgpack-parser),
/// then each complete packet's arguments read as the server hands them to handlers (SocketIOArgs: JSON, and
/// <c>byte[]</c> resolved from placeholders).
/// <para>Input: byte 0 bit 0 the parser (0 default, 1 msgpack), then Engine.IO messages separated by 0x1E: one
/// starting with 0x00 is binary (the bytes after it), any other is text (skipped unless UTF-8, as a WebSocket
/// would refuse it). Documented outcomes: TryDecode's false with an error (the connection is closed);
/// <see cref="JsonException"/> reading an argument as a type it is not. Checked: a complete packet has its
/// attachments, and encodes to messages that decode to the same packet.</para>
/// </summary>
public static class SocketIOTarget
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);
    private static readonly JsonSerializerOptions Json = SocketIOJson.CreateOptions(new JsonSerializerOptions(), new BinaryPlaceholderConverter());

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1) return;
        var parser = (input[0] & 1) == 0 ? SocketIOParser.Default : SocketIOParser.MsgPack;
        SocketIOPacket? partial = null;
        var rest = input[1..];
        while (true)
        {
            int end = rest.IndexOf((byte)0x1e);
            var item = end < 0 ? rest : rest[..end];
            if (Message(item) is { } message)
            {
                if (!parser.TryDecode(message, ref partial, out var packet, out var error))
                {
                    if (error is null) throw new FuzzInvariantException("TryDecode false without an error");
                    return; // the connection is closed
                }
                if (packet is not null)
                {
                    if (!packet.IsComplete || packet.ReceivedAttachments.Count != packet.AttachmentCount)
                        throw new FuzzInvariantException($"a packet with {packet.ReceivedAttachments.Count} of {packet.AttachmentCount} attachments");
                    ReadArguments(packet);
                    CheckRoundTrip(parser, packet);
                }
            }
            if (end < 0) return;
            rest = rest[(end + 1)..];
        }
    }

    private static EnginePacket? Message(ReadOnlySpan<byte> item)
    {
        if (!item.IsEmpty && item[0] == 0) return EnginePacket.Message(item[1..].ToArray());
        try
        {
            return EnginePacket.Message(Strict.GetString(item));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>As SocketIOSocket hands an event or ack to its handler, and as handlers commonly read the arguments.</summary>
    private static void ReadArguments(SocketIOPacket packet)
    {
        bool isEvent = packet.Type is SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent;
        if (!isEvent && packet.Type is not (SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck)) return;
        if (isEvent && SocketIOArgs.EventName(packet) is null) throw new FuzzInvariantException("an event without a name");
        var args = SocketIOArgs.From(packet.Data, isEvent ? 1 : 0, packet.ReceivedAttachments, Json);
        _ = args.ToString();
        for (int i = 0; i < args.Count; i++)
        {
            _ = args.Get<JsonElement>(i);
            try
            {
                _ = args.GetBytes(i);
            }
            catch (JsonException)
            {
            }
            try
            {
                _ = args.Get<Dictionary<string, string>>(i);
            }
            catch (JsonException)
            {
            }
        }
    }

    private static void CheckRoundTrip(SocketIOParser parser, SocketIOPacket packet)
    {
        var again = Decode(parser, packet);
        // msgpack numbers settle after one trip (a uint64 over long's range is written back as a float64).
        if (parser == SocketIOParser.MsgPack) (packet, again) = (again, Decode(parser, again));
        if (Normal(packet.Type) != Normal(again.Type) || packet.Namespace != again.Namespace || packet.Id != again.Id
            || packet.Data?.GetRawText() != again.Data?.GetRawText() || packet.ReceivedAttachments.Count != again.ReceivedAttachments.Count)
            throw new FuzzInvariantException($"{Describe(packet)} came back as {Describe(again)}");
        for (int i = 0; i < packet.ReceivedAttachments.Count; i++)
            if (!packet.ReceivedAttachments[i].AsSpan().SequenceEqual(again.ReceivedAttachments[i]))
                throw new FuzzInvariantException($"attachment {i} came back changed");
    }

    private static SocketIOPacket Decode(SocketIOParser parser, SocketIOPacket packet)
    {
        SocketIOPacket? partial = null, result = null;
        foreach (var message in parser.Encode(packet))
        {
            if (!parser.TryDecode(message, ref partial, out var decoded, out var error))
                throw new FuzzInvariantException($"{Describe(packet)} encoded to {message}, which does not decode: {error}");
            result ??= decoded;
        }
        return result ?? throw new FuzzInvariantException($"{Describe(packet)} encoded to an incomplete packet");
    }

    private static SocketIOPacketType Normal(SocketIOPacketType type) => type switch
    {
        SocketIOPacketType.BinaryEvent => SocketIOPacketType.Event,
        SocketIOPacketType.BinaryAck => SocketIOPacketType.Ack,
        _ => type,
    };

    private static string Describe(SocketIOPacket p) => $"{p.Type} {p.Namespace} {p.Id} {p.Data?.GetRawText()} +{p.ReceivedAttachments.Count}";
}
