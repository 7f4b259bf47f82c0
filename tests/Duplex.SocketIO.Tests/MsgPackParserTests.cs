using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// The socket.io-msgpack-parser codec alone, against bytes notepack.io 2.2.0 (the parser's encoder)
/// produced, and on bad input: every malformed message is refused with an error, none throws.
/// </summary>
public sealed class MsgPackParserTests
{
    private static readonly JsonSerializerOptions Json = new SocketIOServer().JsonOptions;
    private static readonly SocketIOParser Parser = SocketIOParser.MsgPack;

    // notepack.encode({type: 2, data: ["chat", "hi", 1, -5, 1.5, null, true, {a: [1, 2]}, Buffer [1,2,3], 300, -200, 70000,
    //                  "x" * 40], options: {compress: true}, nsp: "/", id: 7}): what socket.io-client sends.
    private const string ClientEvent =
        "85a47479706502a4646174619da463686174a2686901fbcb3ff8000000000000c0c381a161920102c403010203cd012cd1ff38ce00011170d928" +
        "78787878787878787878787878787878787878787878787878787878787878787878787878787878" +
        "a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12fa2696407";

    // {type: 2, data: ["ev", undefined], options: {compress: true}, nsp: "/chat", id: undefined}
    private const string UndefinedParts = "85a47479706502a46461746192a26576d40000a76f7074696f6e7381a8636f6d7072657373c3a36e7370a52f63686174a26964d40000";

    // {type: 2, data: ["ev", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))], nsp: "/"}
    private const string DateArg = "83a47479706502a46461746192a26576d7000000018cc820db2ea36e7370a12f";

    // {type: 2, data: ["ev", new Uint8Array([9, 8, 7])], nsp: "/"}: notepack writes typed arrays as ext type 0.
    private const string TypedArrayArg = "83a47479706502a46461746192a26576c70300090807a36e7370a12f";

    // {type: 3, data: [{ok: true, n: 1.25}, Buffer [255]], nsp: "/admin", id: 12}: a Node server's binary ack.
    private const string NodeAck = "84a47479706503a4646174619282a26f6bc3a16ecb3ff4000000000000c401ffa36e7370a62f61646d696ea269640c";

    private static EnginePacket Bin(string hex) => EnginePacket.Message(Convert.FromHexString(hex));

    private static SocketIOPacket Decode(EnginePacket message)
    {
        SocketIOPacket? partial = null;
        Assert.True(Parser.TryDecode(message, ref partial, out var packet, out var error), error);
        Assert.Null(partial);
        return Assert.IsType<SocketIOPacket>(packet);
    }

    private static string Refuse(byte[] bytes)
    {
        SocketIOPacket? partial = null;
        Assert.False(Parser.TryDecode(EnginePacket.Message(bytes), ref partial, out var packet, out var error));
        Assert.Null(packet);
        return Assert.IsType<string>(error);
    }

    [Fact]
    public void Decodes_a_socket_io_client_event_with_every_kind_of_value_and_binary_as_an_attachment()
    {
        var packet = Decode(Bin(ClientEvent));
        Assert.Equal(SocketIOPacketType.BinaryEvent, packet.Type);
        Assert.Equal("/", packet.Namespace);
        Assert.Equal(7, packet.Id);
        var data = packet.Data!.Value;
        Assert.Equal("chat", data[0].GetString());
        var args = SocketIOArgs.From(data, 1, packet.Attachments, Json);
        Assert.Equal("hi", args.Get<string>(0));
        Assert.Equal(1, args.Get<int>(1));
        Assert.Equal(-5, args.Get<int>(2));
        Assert.Equal(1.5, args.Get<double>(3));
        Assert.Equal(JsonValueKind.Null, args[4].ValueKind);
        Assert.True(args.Get<bool>(5));
        Assert.Equal(2, args[6].GetProperty("a")[1].GetInt32());
        Assert.Equal(new byte[] { 1, 2, 3 }, args.GetBytes(7));
        Assert.Equal(300, args.Get<int>(8));
        Assert.Equal(-200, args.Get<int>(9));
        Assert.Equal(70000, args.Get<int>(10));
        Assert.Equal(new string('x', 40), args.Get<string>(11));
    }

    [Fact]
    public void Undefined_reads_as_JSON_stringify_sees_it_left_out_of_a_map_null_in_an_array()
    {
        var packet = Decode(Bin(UndefinedParts));
        Assert.Equal(SocketIOPacketType.Event, packet.Type);
        Assert.Equal("/chat", packet.Namespace);
        Assert.Null(packet.Id);
        Assert.Equal(JsonValueKind.Null, packet.Data!.Value[1].ValueKind);
    }

    [Fact]
    public void A_date_reads_as_its_ISO_8601_text_and_a_typed_array_as_binary()
    {
        Assert.Equal("2024-01-02T03:04:05.678Z", Decode(Bin(DateArg)).Data!.Value[1].GetString());
        var packet = Decode(Bin(TypedArrayArg));
        Assert.Equal(new byte[] { 9, 8, 7 }, SocketIOArgs.From(packet.Data, 1, packet.Attachments, Json).GetBytes(0));
    }

    [Fact]
    public void Encodes_an_ack_byte_for_byte_as_a_node_server_with_notepack_does()
    {
        var packets = SocketIOEncoder.Ack(Parser, "/admin", 12, [new { ok = true, n = 1.25 }, new byte[] { 255 }], Json);
        var message = Assert.Single(packets);
        Assert.Equal(NodeAck, Convert.ToHexString(message.Binary!).ToLowerInvariant());
    }

    [Fact]
    public void Encodes_the_connect_answer_as_one_binary_message_written_alone()
    {
        var message = Assert.Single(SocketIOEncoder.Connect(Parser, "/", "abc", null));
        Assert.Equal("83a47479706500a46461746181a3736964a3616263a36e7370a12f", Convert.ToHexString(message.Binary!).ToLowerInvariant());
        Assert.True(message.WriteAlone);
    }

    [Fact]
    public void Event_with_binary_round_trips_with_the_bytes_as_bin_not_placeholders()
    {
        var message = Assert.Single(SocketIOEncoder.Event(Parser, "/", "file", ["name", new byte[] { 0, 1, 2 }, new { inner = new byte[] { 3 } }], 5, Json));
        Assert.True(message.Binary!.AsSpan().IndexOf(new byte[] { 0xc4, 3, 0, 1, 2 }) > 0);
        Assert.True(message.Binary!.AsSpan().IndexOf("_placeholder"u8) < 0);
        var packet = Decode(message);
        var args = SocketIOArgs.From(packet.Data, 1, packet.Attachments, Json);
        Assert.Equal(new byte[] { 0, 1, 2 }, args.GetBytes(1));
        Assert.Equal(new byte[] { 3 }, args.Get<Holder>(2)!.Inner);
        Assert.Equal(5, packet.Id);
    }

    private sealed record Holder(byte[] Inner);

    [Fact]
    public void A_broadcast_is_encoded_once_per_parser_and_the_same_messages_go_to_every_recipient()
    {
        var broadcast = Adapters.BroadcastPacket.FromEncoded(SocketIOEncoder.Event(SocketIOParser.Default, "/", "news", ["hi", new byte[] { 1 }], null, Json));
        var first = broadcast.EncodedWith(Parser);
        Assert.Same(first, broadcast.EncodedWith(Parser));
        var packet = Decode(Assert.Single(first));
        Assert.Equal(new byte[] { 1 }, Assert.Single(packet.Attachments));
        // Made in msgpack form, the decoded form (for other nodes) and the default form follow from it.
        var fromMsgPack = Adapters.BroadcastPacket.FromEncoded(first, Parser);
        Assert.Equal("news", fromMsgPack.Packet.Data!.Value[0].GetString());
        Assert.Equal("51-[\"news\",\"hi\",{\"_placeholder\":true,\"num\":0}]", fromMsgPack.Encoded[0].Text);
    }

    // ───────────────────────────── bad input ─────────────────────────────

    [Fact]
    public void Every_truncation_of_a_valid_packet_is_refused()
    {
        var whole = Convert.FromHexString(ClientEvent);
        for (int length = 0; length < whole.Length; length++) Refuse(whole[..length]);
    }

    [Fact]
    public void Trailing_bytes_after_the_packet_are_refused() => Refuse([.. Convert.FromHexString(NodeAck), 0xc0]);

    [Theory]
    [InlineData("db", "ffffffff")] // str 32 of 4 GiB
    [InlineData("c6", "ffffffff")] // bin 32
    [InlineData("dd", "ffffffff")] // array 32 of 4 billion items
    [InlineData("df", "ffffffff")] // map 32
    [InlineData("c9", "ffffffff00")] // ext 32
    [InlineData("da", "ffff")] // str 16, more than there is
    public void A_length_past_the_message_is_refused_before_anything_is_allocated(string marker, string length)
    {
        // {type: 2, nsp: "/", data: <the value>}: the huge length sits where the data goes.
        var bytes = Convert.FromHexString("83a47479706502a36e7370a12fa464617461" + marker + length + "00");
        long before = GC.GetAllocatedBytesForCurrentThread();
        Refuse(bytes);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated as the length said");
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused()
    {
        var deep = Enumerable.Repeat((byte)0x91, 100).Append((byte)0xc0);
        Refuse([.. Convert.FromHexString("83a47479706502a36e7370a12fa464617461"), .. deep]);
        // At the limit (the map at depth 0, data at 1, 63 more levels) it still reads.
        var limit = Enumerable.Repeat((byte)0x91, MsgPack.MaxDepth - 1).Append((byte)0xa1).Append((byte)'e');
        var packet = Decode(EnginePacket.Message([.. Convert.FromHexString("83a47479706503a36e7370a12fa464617461"), .. limit]));
        Assert.Equal(SocketIOPacketType.Ack, packet.Type);
    }

    [Fact]
    public void The_codec_reads_containers_down_to_its_depth_limit_and_refuses_one_past_it_with_FormatException()
    {
        // 65 nested arrays (depths 0 … 64, the last empty): the most the limit allows.
        var atLimit = Enumerable.Repeat((byte)0x91, MsgPack.MaxDepth).Append((byte)0x90).ToArray();
        Assert.Equal(JsonValueKind.Array, MsgPack.ToJson(atLimit, []).ValueKind);
        var past = Enumerable.Repeat((byte)0x91, MsgPack.MaxDepth + 1).Append((byte)0x90).ToArray();
        Assert.Throws<FormatException>(() => MsgPack.ToJson(past, []));
    }

    [Theory]
    [InlineData("92a47479706502", "must be a map")] // an array, not a map
    [InlineData("c1", "MessagePack")] // a byte MessagePack never uses
    [InlineData("82a4747970650aa36e7370a12f", "invalid packet type")] // type 10
    [InlineData("83a47479706505a36e7370a12fa46461746191a16b", "invalid packet type")] // BINARY_EVENT: not in this parser
    [InlineData("83a474797065a132a36e7370a12fa46461746191a16b", "invalid packet type")] // type "2"
    [InlineData("83a474797065cb3ff8000000000000a36e7370a12fa46461746191a16b", "invalid packet type")] // type 1.5
    [InlineData("82a47479706502a46461746191a16b", "invalid namespace")] // no nsp
    [InlineData("83a47479706502a36e737001a46461746191a16b", "invalid namespace")] // nsp 1
    [InlineData("84a47479706502a36e7370a12fa46461746191a16ba26964a131", "invalid packet id")] // id "1"
    [InlineData("84a47479706502a36e7370a12fa46461746191a16ba26964c0", "invalid packet id")] // id null
    [InlineData("83a47479706502a36e7370a12fa464617461a16b", "invalid payload")] // event data not an array
    [InlineData("83a47479706502a36e7370a12fa4646174619aa7636f6e6e656374", "")] // a truncated array
    [InlineData("83a47479706502a36e7370a12fa46461746191aa646973636f6e6e656374", "invalid payload")] // a reserved name
    [InlineData("83a47479706500a36e7370a12fa46461746191a16b", "invalid payload")] // CONNECT data an array
    [InlineData("83a47479706500a36e7370a12fa464617461c0", "invalid payload")] // CONNECT data null
    [InlineData("83a47479706501a36e7370a12fa46461746180", "invalid payload")] // DISCONNECT with data
    [InlineData("83a47479706504a36e7370a12fa46461746101", "invalid payload")] // CONNECT_ERROR data a number
    [InlineData("83a47479706502a36e7370a12fa46461746191a2c328", "UTF-8")] // an invalid UTF-8 string
    public void Malformed_packets_are_refused_with_the_reason(string hex, string reason) =>
        Assert.Contains(reason, Refuse(Convert.FromHexString(hex)));

    [Fact]
    public void A_text_message_is_refused()
    {
        SocketIOPacket? partial = null;
        Assert.False(Parser.TryDecode(EnginePacket.Message("2[\"ev\"]"), ref partial, out _, out var error));
        Assert.Contains("text message", error);
    }
}
