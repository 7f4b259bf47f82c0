using System.Text.Json;
using Duplex.SocketIO;
using Duplex.SocketIO.Redis;

namespace Duplex.Fuzz;

/// <summary>
/// The MessagePack decoder (Duplex.SocketIO.MsgPack, shared by the Redis adapter and the Socket.IO msgpack
/// parser) and the Redis adapter's codec (RedisAdapterCodec) reading what other nodes publish: broadcasts
/// <c>[uid, packet, opts]</c>, requests and responses (JSON when the first byte is '{', else MessagePack).
/// <para>Input: byte 0 (mod 4) what the bytes are: 0 a broadcast, 1 a request, 2 a response (each part of it
/// read as the adapter reads it), 3 a bare MessagePack value; then the message. Documented outcomes:
/// <see cref="FormatException"/> and <see cref="JsonException"/> ("malformed input throws"). Checked: what
/// decodes re-encodes, and a decoded value's MessagePack decodes to the same JSON after one trip.</para>
/// </summary>
public static class MsgPackTarget
{
    private static readonly RedisAdapterCodec Codec = new("socket.io", "/");

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1) return;
        var message = input[1..].ToArray();
        try
        {
            switch (input[0] & 3)
            {
                case 0:
                    var broadcast = Codec.DecodeBroadcast(message);
                    if (broadcast.Packet is { } packet)
                    {
                        var again = Codec.DecodeBroadcast(Codec.EncodeBroadcast(broadcast.Uid ?? "", packet, broadcast.Options));
                        if (again.Packet is null || again.Packet.Data?.GetRawText() is not { } data || data.Length == 0)
                            throw new FuzzInvariantException("a broadcast re-encoded lost its packet");
                    }
                    break;
                case 1:
                    var request = Codec.DecodeRequest(message);
                    if (request is BroadcastRequest { Packet: { } p } b)
                        _ = Codec.DecodeRequest(Codec.EncodeBroadcastRequest(b.Uid ?? "", b.RequestId ?? "", p, b.Options, b.Options.Timeout ?? TimeSpan.FromSeconds(1)));
                    break;
                case 2:
                    var response = Codec.DecodeResponse(message);
                    _ = (response.RequestId, response.Type, response.ClientCount, response.Data);
                    _ = response.AckArguments;
                    _ = response.ReadStrings("rooms");
                    _ = response.ReadStrings("sockets");
                    _ = response.ReadSockets();
                    break;
                default:
                    var attachments = new List<byte[]>();
                    var value = MsgPack.ToJson(message, attachments);
                    List<byte[]> first = [], second = [];
                    var once = MsgPack.ToJson(MsgPack.FromJson(value, attachments), first);
                    var twice = MsgPack.ToJson(MsgPack.FromJson(once, first), second);
                    if (once.GetRawText() != twice.GetRawText())
                        throw new FuzzInvariantException($"{once.GetRawText()} came back as {twice.GetRawText()}");
                    break;
            }
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
        }
    }
}
