using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Adapters;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>
/// <see cref="RedisAdapterCodec"/> against the bytes @socket.io/redis-adapter 8.3.0 published, captured by
/// tests/peers-socketio-redis/capture.js into Fixtures/node-redis-adapter.json (no Node needed here).
/// Each test decodes one captured message and checks it against what the script asked Node to send,
/// then encodes that same logical message with the codec and compares the bytes with Node's.
/// </summary>
public class NodeWireFormatTests
{
    private static readonly NodeFixture Node = NodeFixture.Load();
    private static readonly RedisAdapterCodec Codec = new("socket.io", "/");

    private static string UidA => Node.Uid("A");
    private static string UidB => Node.Uid("B");

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static void AssertJson(string expected, JsonElement actual) =>
        Assert.True(JsonElement.DeepEquals(Json(expected), actual), $"expected {expected}, got {actual.GetRawText()}");

    private static void AssertSameBytes(byte[] node, byte[] duplex) =>
        Assert.Equal(Convert.ToHexString(node), Convert.ToHexString(duplex));

    private static HashSet<string> Set(params string[] items) => new(items, StringComparer.Ordinal);

    private static SocketIOPacket Event(string data, params byte[][] attachments)
    {
        var packet = new SocketIOPacket
        {
            Type = attachments.Length > 0 ? SocketIOPacketType.BinaryEvent : SocketIOPacketType.Event,
            Namespace = "/",
            Data = Json(data),
            AttachmentCount = attachments.Length,
        };
        packet.Attachments.AddRange(attachments);
        return packet;
    }

    private static void AssertNoSelection(BroadcastOptions options)
    {
        Assert.Empty(options.Rooms);
        Assert.Empty(options.Except);
    }

    private static void AssertDefaultFlags(BroadcastOptions options)
    {
        Assert.False(options.Volatile);
        Assert.True(options.Compress);
        Assert.Null(options.Timeout);
    }

    // ───────────────────────────── channels ─────────────────────────────

    [Fact]
    public void Channel_names_are_the_ones_node_published_on()
    {
        Assert.Equal(Node["broadcast-all"].Channel, Codec.BroadcastChannel);
        Assert.Equal(Node["broadcast-one-room"].Channel, Codec.RoomChannel("room1"));
        Assert.Equal(Node["fetch-sockets-request"].Channel, Codec.RequestChannel);
        Assert.Equal(Node["fetch-sockets-from-b-response"].Channel, Codec.ResponseChannel);
        Assert.Equal(Node["fetch-sockets-response"].Channel, Codec.SpecificResponseChannel(UidA));
        Assert.Equal(Node["broadcast-namespace"].Channel, new RedisAdapterCodec("socket.io", "/chat").BroadcastChannel);
        Assert.Equal("socket.io#/#*", Codec.BroadcastPattern);
    }

    [Fact]
    public void Room_channel_names_the_room_and_the_namespace_channel_none()
    {
        Assert.True(Codec.TryGetBroadcastRoom(Node["broadcast-one-room"].Channel, out string room));
        Assert.Equal("room1", room);
        Assert.True(Codec.TryGetBroadcastRoom(Node["broadcast-all"].Channel, out room));
        Assert.Equal("", room);
        // socket.io#/chat# does not start with socket.io#/#: not the root namespace's.
        Assert.False(Codec.TryGetBroadcastRoom(Node["broadcast-namespace"].Channel, out _));
    }

    // ───────────────────────────── broadcasts ─────────────────────────────

    [Fact]
    public void Broadcast_to_all_decodes_to_nodes_uid_event_and_empty_selection_and_encodes_byte_identical()
    {
        var message = Node["broadcast-all"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        Assert.Equal(UidA, decoded.Uid);
        Assert.NotNull(decoded.Packet);
        Assert.Equal(SocketIOPacketType.Event, decoded.Packet.Type);
        Assert.Equal("/", decoded.Packet.Namespace);
        AssertJson("""["hello",1,"two",{"three":3},[4.5,-6],null,true]""", decoded.Packet.Data!.Value);
        AssertNoSelection(decoded.Options);
        AssertDefaultFlags(decoded.Options);

        var options = BroadcastOptions.All;
        Assert.Equal(message.Channel, Codec.BroadcastChannelFor(options));
        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["hello",1,"two",{"three":3},[4.5,-6],null,true]"""), options));
    }

    [Fact]
    public void Broadcast_to_one_room_goes_on_the_room_channel_and_encodes_byte_identical()
    {
        var message = Node["broadcast-one-room"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        Assert.Equal(UidA, decoded.Uid);
        AssertJson("""["to-room","x"]""", decoded.Packet!.Data!.Value);
        Assert.Equal(Set("room1"), decoded.Options.Rooms);
        Assert.Empty(decoded.Options.Except);

        var options = new BroadcastOptions { Rooms = Set("room1") };
        Assert.Equal(message.Channel, Codec.BroadcastChannelFor(options));
        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["to-room","x"]"""), options));
    }

    [Fact]
    public void Broadcast_to_rooms_with_except_carries_both_lists_and_encodes_byte_identical()
    {
        var message = Node["broadcast-rooms-except"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        AssertJson("""["to-rooms",1]""", decoded.Packet!.Data!.Value);
        Assert.Equal(Set("room1", "room2"), decoded.Options.Rooms);
        Assert.Equal(Set("room3"), decoded.Options.Except);

        var options = new BroadcastOptions { Rooms = Set("room1", "room2"), Except = Set("room3") };
        Assert.Equal(message.Channel, Codec.BroadcastChannelFor(options));
        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["to-rooms",1]"""), options));
    }

    [Fact]
    public void Broadcast_with_buffers_decodes_bin_to_placeholders_in_order_and_encodes_byte_identical()
    {
        var message = Node["broadcast-binary"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        var packet = decoded.Packet!;
        // Node keeps the type EVENT with buffers inline; Duplex's in-memory packet is a BINARY_EVENT.
        Assert.Equal(SocketIOPacketType.BinaryEvent, packet.Type);
        Assert.Equal(3, packet.AttachmentCount);
        const string data = """["bin",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1},"list":[{"_placeholder":true,"num":2}]}]""";
        AssertJson(data, packet.Data!.Value);
        Assert.Equal([1, 2, 3], packet.Attachments[0]);
        Assert.Equal([255], packet.Attachments[1]);
        Assert.Empty(packet.Attachments[2]);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event(data, [1, 2, 3], [255], []), BroadcastOptions.All));
    }

    [Fact]
    public void Volatile_broadcast_sets_the_volatile_flag_and_encodes_byte_identical()
    {
        var message = Node["broadcast-volatile"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        Assert.True(decoded.Options.Volatile);
        Assert.True(decoded.Options.Compress);
        AssertJson("""["vol",1]""", decoded.Packet!.Data!.Value);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["vol",1]"""), new BroadcastOptions { Volatile = true }));
    }

    [Fact]
    public void Uncompressed_broadcast_sets_compress_false_and_encodes_byte_identical()
    {
        var message = Node["broadcast-compress-false"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        Assert.False(decoded.Options.Compress);
        Assert.False(decoded.Options.Volatile);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["nocomp","z"]"""), new BroadcastOptions { Compress = false }));
    }

    [Fact]
    public void Local_broadcast_was_not_published_by_node()
    {
        // Nothing to decode: the capture proves io.local.emit publishes nothing, as RedisAdapter does.
        Assert.Contains("broadcast-local", Node.SilentSteps);
    }

    private static readonly string Unicode = "héllo wörld — 世界 😀";

    private static string WidthsData(string huge) =>
        "[\"widths\",127,128,255,256,65535,65536,4294967295,4294967296,9007199254740991," +
        "-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649,0.5,-0.25," + huge + "," +
        JsonSerializer.Serialize(new string('a', 31)) + "," + JsonSerializer.Serialize(new string('b', 32)) + "," +
        JsonSerializer.Serialize(new string('c', 255)) + "," + JsonSerializer.Serialize(new string('d', 256)) + "," +
        JsonSerializer.Serialize(Unicode) + "," +
        "{" + string.Join(",", Enumerable.Range(0, 16).Select(i => $"\"k{i}\":{i}")) + "}]";

    [Fact]
    public void Integers_floats_strings_and_containers_at_every_width_decode_to_what_node_sent()
    {
        var data = Codec.DecodeBroadcast(Node["broadcast-widths"].Bytes).Packet!.Data!.Value;
        Assert.Equal(28, data.GetArrayLength());
        // notepack.io writes 1e300 (a whole number past 2^64) as uint 64 of garbage (0): the bytes say 0.
        AssertJson(WidthsData("0"), data);
        Assert.Equal(Unicode, data[26].GetString());
        Assert.Equal(9007199254740991L, data[9].GetInt64());
        Assert.Equal(-2147483649L, data[18].GetInt64());
    }

    [Fact]
    public void Integers_floats_strings_and_containers_encode_with_notepacks_widths()
    {
        var node = Convert.ToHexString(Node["broadcast-widths"].Bytes);
        var duplex = Convert.ToHexString(Codec.EncodeBroadcast(UidA, Event(WidthsData("1e300")), BroadcastOptions.All));
        // Byte-identical but for 1e300: notepack's uint 64 of 0 (a notepack bug), Duplex's float 64.
        string notepack1e300 = "CF0000000000000000";
        string float1e300 = "CB" + BitConverter.DoubleToUInt64Bits(1e300).ToString("X16");
        Assert.Equal(1, CountOf(node, notepack1e300));
        Assert.Equal(node.Replace(notepack1e300, float1e300), duplex);
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 2, StringComparison.Ordinal))
            if (i % 2 == 0) count++;
        return count;
    }

    [Fact]
    public void Broadcast_in_another_namespace_is_read_by_its_codec_and_ignored_by_the_root_namespaces()
    {
        var message = Node["broadcast-namespace"];
        var chat = new RedisAdapterCodec("socket.io", "/chat");
        Assert.True(chat.TryGetBroadcastRoom(message.Channel, out string room));
        Assert.Equal("", room);
        var decoded = chat.DecodeBroadcast(message.Bytes);
        Assert.Equal(Node.Uid("A/chat"), decoded.Uid);
        Assert.Equal("/chat", decoded.Packet!.Namespace);
        AssertJson("""["chat","hi"]""", decoded.Packet.Data!.Value);
        Assert.Null(Codec.DecodeBroadcast(message.Bytes).Packet);

        var packet = new SocketIOPacket { Type = SocketIOPacketType.Event, Namespace = "/chat", Data = Json("""["chat","hi"]""") };
        AssertSameBytes(message.Bytes, chat.EncodeBroadcast(Node.Uid("A/chat"), packet, BroadcastOptions.All));
    }

    [Fact]
    public void Socket_broadcast_excepts_the_senders_own_room_and_encodes_byte_identical()
    {
        var message = Node["socket-broadcast"];
        var decoded = Codec.DecodeBroadcast(message.Bytes);
        Assert.Empty(decoded.Options.Rooms);
        Assert.Equal(Set(Node.Socket("c0")), decoded.Options.Except);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcast(UidA, Event("""["relayed","r"]"""), new BroadcastOptions { Except = Set(Node.Socket("c0")) }));
    }

    // ───────────────────────────── broadcast with acks ─────────────────────────────

    [Fact]
    public void Broadcast_with_ack_request_is_messagepack_with_packet_and_timeout_and_encodes_byte_identical()
    {
        var message = Node["broadcast-ack-request"];
        Assert.Equal(Codec.RequestChannel, message.Channel);
        var request = Assert.IsType<BroadcastRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(UidA, request.Uid);
        Assert.Equal(6, request.RequestId!.Length);
        const string data = """["ask","q1",{"_placeholder":true,"num":0}]""";
        AssertJson(data, request.Packet!.Data!.Value);
        Assert.Equal([7], request.Packet.Attachments.Single());
        Assert.Equal(Set(Node.Socket("c1")), request.Options.Rooms);
        Assert.Empty(request.Options.Except);
        Assert.Equal(TimeSpan.FromMilliseconds(2000), request.Options.Timeout);

        var options = new BroadcastOptions { Rooms = Set(Node.Socket("c1")) };
        AssertSameBytes(message.Bytes, Codec.EncodeBroadcastRequest(UidA, request.RequestId, Event(data, [7]), options, TimeSpan.FromMilliseconds(2000)));
    }

    [Fact]
    public void Client_count_answer_is_json_on_the_requesters_channel_and_encodes_byte_identical()
    {
        foreach (var (prefix, count) in new[] { ("broadcast-ack", 1), ("broadcast-ack-binary", 1), ("broadcast-ack-nobody", 0) })
        {
            string requestId = Codec.DecodeRequest(Node[prefix + "-request"].Bytes).RequestId!;
            var message = Node[prefix + "-client-count"];
            Assert.Equal(Codec.SpecificResponseChannel(UidA), message.Channel);
            var response = Codec.DecodeResponse(message.Bytes);
            Assert.Equal(requestId, response.RequestId);
            Assert.Equal(RedisRequestType.BroadcastClientCount, response.Type);
            Assert.Equal(count, response.ClientCount);

            AssertSameBytes(message.Bytes, Codec.EncodeClientCountResponse(requestId, count));
        }
    }

    [Fact]
    public void Ack_answer_is_messagepack_with_the_clients_argument_and_encodes_byte_identical()
    {
        string requestId = Codec.DecodeRequest(Node["broadcast-ack-request"].Bytes).RequestId!;
        var message = Node["broadcast-ack-response"];
        var response = Codec.DecodeResponse(message.Bytes);
        Assert.Equal(requestId, response.RequestId);
        Assert.Equal(RedisRequestType.BroadcastAck, response.Type);
        AssertJson("""["pong"]""", response.AckArguments);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcastAckResponse(requestId, Json("\"pong\""), []));
    }

    [Fact]
    public void Binary_ack_answer_decodes_to_a_placeholder_and_its_bytes_and_encodes_byte_identical()
    {
        var request = Assert.IsType<BroadcastRequest>(Codec.DecodeRequest(Node["broadcast-ack-binary-request"].Bytes));
        AssertJson("""["ask-bin"]""", request.Packet!.Data!.Value);
        Assert.Equal(Set(Node.Socket("c2")), request.Options.Rooms);
        var message = Node["broadcast-ack-binary-response"];
        var response = Codec.DecodeResponse(message.Bytes);
        Assert.Equal(request.RequestId, response.RequestId);
        AssertJson("""[{"_placeholder":true,"num":0}]""", response.AckArguments);
        Assert.Equal([0xde, 0xad, 0xbe, 0xef], response.Attachments.Single());

        byte[][] attachments = [[0xde, 0xad, 0xbe, 0xef]];
        AssertSameBytes(message.Bytes, Codec.EncodeBroadcastAckResponse(request.RequestId!, Json("""{"_placeholder":true,"num":0}"""), attachments));
    }

    [Fact]
    public void Broadcast_with_ack_to_an_empty_room_encodes_byte_identical()
    {
        var message = Node["broadcast-ack-nobody-request"];
        var request = Assert.IsType<BroadcastRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(Set("nobody"), request.Options.Rooms);
        Assert.Equal(TimeSpan.FromMilliseconds(500), request.Options.Timeout);

        AssertSameBytes(message.Bytes, Codec.EncodeBroadcastRequest(UidA, request.RequestId!, Event("""["ask"]"""),
            new BroadcastOptions { Rooms = Set("nobody") }, TimeSpan.FromMilliseconds(500)));
    }

    // ───────────────────────────── fetchSockets ─────────────────────────────

    [Fact]
    public void Fetch_request_is_json_with_the_selection_and_encodes_byte_identical()
    {
        var message = Node["fetch-sockets-request"];
        var request = Assert.IsType<FetchRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(UidA, request.Uid);
        Assert.Equal(Set("room1"), request.Selection.Rooms);
        Assert.Equal(Set("room3"), request.Selection.Except);

        var selection = new BroadcastOptions { Rooms = Set("room1"), Except = Set("room3") };
        AssertSameBytes(message.Bytes, Codec.EncodeFetchRequest(UidA, request.RequestId!, selection));
    }

    [Fact]
    public void Fetch_request_selecting_every_socket_from_the_other_node_encodes_byte_identical()
    {
        var message = Node["fetch-sockets-from-b-request"];
        var request = Assert.IsType<FetchRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(UidB, request.Uid);
        AssertNoSelection(request.Selection);

        AssertSameBytes(message.Bytes, Codec.EncodeFetchRequest(UidB, request.RequestId!, BroadcastOptions.All));
    }

    private static void AssertFetchResponse(string name, string requestName, string client, string[] rooms, string queryRooms)
    {
        string requestId = Codec.DecodeRequest(Node[requestName].Bytes).RequestId!;
        var message = Node[name];
        var response = Codec.DecodeResponse(message.Bytes);
        Assert.Equal(requestId, response.RequestId);
        var socket = Assert.Single(response.ReadSockets()!);
        Assert.Equal(Node.Socket(client), socket.Id);
        Assert.Equal(Set([Node.Socket(client), .. rooms]), socket.Rooms);
        AssertJson($$"""{"name":"{{client}}","n":42}""", socket.Data);
        var handshake = socket.Handshake;
        Assert.Equal("127.0.0.1", handshake.GetProperty("address").GetString());
        Assert.False(handshake.GetProperty("secure").GetBoolean());
        Assert.Equal("websocket", handshake.GetProperty("headers").GetProperty("upgrade").GetString());
        AssertJson($$"""{"name":"{{client}}","rooms":"{{queryRooms}}","EIO":"4","transport":"websocket"}""", handshake.GetProperty("query"));
        AssertJson($$"""{"token":"t-{{client}}"}""", handshake.GetProperty("auth"));
        Assert.EndsWith("GMT+0000 (Coordinated Universal Time)", handshake.GetProperty("time").GetString());

        // The handshake is Node's own (its time, key and port are the capture's); the rest is rebuilt.
        var rebuilt = new RemoteSocket(Node.Socket(client), handshake, Set([Node.Socket(client), .. rooms]), Json($$"""{"name":"{{client}}","n":42}"""));
        var encoded = Codec.EncodeFetchResponse(requestId, [rebuilt]);
        Assert.True(JsonElement.DeepEquals(Json(Encoding.UTF8.GetString(message.Bytes)), Json(Encoding.UTF8.GetString(encoded))));
        AssertSameBytes(message.Bytes, encoded);
    }

    [Fact]
    public void Fetch_answer_on_the_specific_channel_describes_the_socket_and_encodes_byte_identical() =>
        AssertFetchResponse("fetch-sockets-response", "fetch-sockets-request", "c1", ["room1", "room2"], "room1,room2");

    [Fact]
    public void Fetch_answer_on_the_shared_channel_describes_the_socket_and_encodes_byte_identical()
    {
        Assert.Equal(Codec.ResponseChannel, Node["fetch-sockets-from-b-response"].Channel);
        AssertFetchResponse("fetch-sockets-from-b-response", "fetch-sockets-from-b-request", "c0", ["room3"], "room3");
    }

    // ───────────────────────────── socketsJoin / socketsLeave / disconnectSockets ─────────────────────────────

    [Fact]
    public void Sockets_join_request_carries_selection_and_rooms_and_encodes_byte_identical()
    {
        var message = Node["sockets-join"];
        var request = Assert.IsType<SelectionRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(RedisRequestType.RemoteJoin, request.Type);
        Assert.Equal(UidA, request.Uid);
        Assert.Null(request.RequestId);
        Assert.Equal(Set("room1"), request.Selection!.Rooms);
        Assert.Empty(request.Selection.Except);
        Assert.Equal(Set("room4", "room5"), request.Rooms);
        Assert.Null(request.Sid);

        AssertSameBytes(message.Bytes, Codec.EncodeJoinRequest(UidA, new BroadcastOptions { Rooms = Set("room1") }, ["room4", "room5"]));
    }

    [Fact]
    public void Sockets_leave_request_carries_selection_and_rooms_and_encodes_byte_identical()
    {
        var message = Node["sockets-leave"];
        var request = Assert.IsType<SelectionRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(RedisRequestType.RemoteLeave, request.Type);
        Assert.Equal(Set("room4"), request.Selection!.Rooms);
        Assert.Equal(Set("room2"), request.Selection.Except);
        Assert.Equal(Set("room5"), request.Rooms);

        AssertSameBytes(message.Bytes, Codec.EncodeLeaveRequest(UidA, new BroadcastOptions { Rooms = Set("room4"), Except = Set("room2") }, ["room5"]));
    }

    [Fact]
    public void Disconnect_request_carries_close_and_encodes_byte_identical()
    {
        var closing = Node["disconnect-sockets-close"];
        var request = Assert.IsType<SelectionRequest>(Codec.DecodeRequest(closing.Bytes));
        Assert.Equal(RedisRequestType.RemoteDisconnect, request.Type);
        Assert.True(request.Close);
        Assert.Equal(Set("nobody"), request.Selection!.Rooms);
        AssertSameBytes(closing.Bytes, Codec.EncodeDisconnectRequest(UidA, new BroadcastOptions { Rooms = Set("nobody") }, true));

        var plain = Node["disconnect-sockets"];
        request = Assert.IsType<SelectionRequest>(Codec.DecodeRequest(plain.Bytes));
        Assert.False(request.Close);
        Assert.Empty(request.Selection!.Rooms);
        Assert.Equal(Set("room1", "room2", "room3"), request.Selection.Except);
        AssertSameBytes(plain.Bytes, Codec.EncodeDisconnectRequest(UidA, new BroadcastOptions { Except = Set("room1", "room2", "room3") }, false));
    }

    // ───────────────────────────── serverSideEmit ─────────────────────────────

    [Fact]
    public void Server_side_emit_without_ack_has_no_request_id_and_encodes_byte_identical()
    {
        var message = Node["server-side-emit"];
        var request = Assert.IsType<ServerSideEmitRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(UidA, request.Uid);
        Assert.Null(request.RequestId);
        AssertJson("""["sse",1,{"a":"b"}]""", request.Data);

        AssertSameBytes(message.Bytes, Codec.EncodeServerSideEmit(UidA, null, Json("""["sse",1,{"a":"b"}]""")));
    }

    [Fact]
    public void Server_side_emit_with_ack_and_its_answer_on_the_shared_channel_encode_byte_identical()
    {
        var message = Node["server-side-emit-ack-request"];
        var request = Assert.IsType<ServerSideEmitRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.NotNull(request.RequestId);
        AssertJson("""["sse-ack",2]""", request.Data);
        AssertSameBytes(message.Bytes, Codec.EncodeServerSideEmit(UidA, request.RequestId, Json("""["sse-ack",2]""")));

        var answer = Node["server-side-emit-ack-response"];
        // B publishes on specific channels, yet server-side emit answers always go to the shared one.
        Assert.Equal(Codec.ResponseChannel, answer.Channel);
        var response = Codec.DecodeResponse(answer.Bytes);
        Assert.Equal(request.RequestId, response.RequestId);
        Assert.Equal(RedisRequestType.ServerSideEmit, response.Type);
        AssertJson("""{"got":2,"node":"B"}""", response.Data);
        AssertSameBytes(answer.Bytes, Codec.EncodeServerSideEmitResponse(request.RequestId, Json("""{"got":2,"node":"B"}""")));
    }

    [Fact]
    public void Json_requests_write_text_as_json_stringify_does()
    {
        // JSON.stringify(["t", "a+b&c<d>'e", "héllo 世界", "😀", "\"\\\n"]) in Node 20; the emoji is the one
        // place Duplex differs (a surrogate-pair escape, which JSON.parse reads back the same).
        var bytes = Codec.EncodeServerSideEmit("u", null, Json("""["t","a+b&c<d>'e","héllo 世界","\ud83d\ude00","\"\\\n"]"""));
        Assert.Equal("""{"uid":"u","type":6,"data":["t","a+b&c<d>'e","héllo 世界","\uD83D\uDE00","\"\\\n"]}""", Encoding.UTF8.GetString(bytes));
    }

    // ───────────────────────────── allRooms ─────────────────────────────

    [Fact]
    public void All_rooms_request_and_answer_encode_byte_identical()
    {
        var message = Node["all-rooms-request"];
        var request = Assert.IsType<AllRoomsRequest>(Codec.DecodeRequest(message.Bytes));
        Assert.Equal(UidA, request.Uid);
        AssertSameBytes(message.Bytes, Codec.EncodeAllRoomsRequest(UidA, request.RequestId!));

        var answer = Node["all-rooms-response"];
        var response = Codec.DecodeResponse(answer.Bytes);
        Assert.Equal(request.RequestId, response.RequestId);
        string c1 = Node.Socket("c1"), c2 = Node.Socket("c2");
        // B's rooms in the order its adapter created them: c1's, then c2's, then those socketsJoin added.
        string[] rooms = [c1, "room1", "room2", c2, "room3", "room4", "room5"];
        Assert.Equal(rooms, response.ReadStrings("rooms"));
        AssertSameBytes(answer.Bytes, Codec.EncodeListResponse(request.RequestId!, "rooms", rooms));
    }

    // ───────────────────────────── every message ─────────────────────────────

    public static TheoryData<string> MessageNames() => new(NodeFixture.Load().Names);

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Every_node_message_is_read_by_the_decoder_of_its_channel(string name)
    {
        var message = Node[name];
        var codec = message.Channel.StartsWith("socket.io#/chat#", StringComparison.Ordinal) ? new RedisAdapterCodec("socket.io", "/chat") : Codec;
        if (codec.TryGetBroadcastRoom(message.Channel, out _)) Assert.NotNull(codec.DecodeBroadcast(message.Bytes).Packet);
        else if (message.Channel == codec.RequestChannel) Assert.NotNull(codec.DecodeRequest(message.Bytes).Uid);
        else
        {
            Assert.StartsWith(codec.ResponseChannel, message.Channel);
            Assert.NotNull(codec.DecodeResponse(message.Bytes).RequestId);
        }
    }

    [Fact]
    public void The_fixture_holds_every_kind_of_message_the_tests_cover()
    {
        Assert.Equal(
        [
            "all-rooms-request", "all-rooms-response",
            "broadcast-ack-binary-client-count", "broadcast-ack-binary-request", "broadcast-ack-binary-response",
            "broadcast-ack-client-count", "broadcast-ack-nobody-client-count", "broadcast-ack-nobody-request",
            "broadcast-ack-request", "broadcast-ack-response",
            "broadcast-all", "broadcast-binary", "broadcast-compress-false", "broadcast-namespace", "broadcast-one-room",
            "broadcast-rooms-except", "broadcast-volatile", "broadcast-widths",
            "disconnect-sockets", "disconnect-sockets-close",
            "fetch-sockets-from-b-request", "fetch-sockets-from-b-response", "fetch-sockets-request", "fetch-sockets-response",
            "server-side-emit", "server-side-emit-ack-request", "server-side-emit-ack-response",
            "socket-broadcast", "sockets-join", "sockets-leave",
        ], Node.Names.Order(StringComparer.Ordinal));
    }
}

/// <summary>Fixtures/node-redis-adapter.json: what capture.js recorded.</summary>
internal sealed class NodeFixture
{
    public sealed record Message(string Channel, byte[] Bytes, string Description);

    private readonly Dictionary<string, Message> _messages = new(StringComparer.Ordinal);
    private JsonElement _root;

    public static NodeFixture Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "node-redis-adapter.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var fixture = new NodeFixture { _root = document.RootElement.Clone() };
        foreach (var m in fixture._root.GetProperty("messages").EnumerateArray())
            fixture._messages.Add(m.GetProperty("name").GetString()!,
                new Message(m.GetProperty("channel").GetString()!, Convert.FromHexString(m.GetProperty("hex").GetString()!), m.GetProperty("description").GetString()!));
        return fixture;
    }

    public Message this[string name] => _messages[name];

    public IEnumerable<string> Names => _messages.Keys;

    public IEnumerable<string> SilentSteps => _root.GetProperty("silent").EnumerateArray().Select(s => s.GetProperty("name").GetString()!);

    public string Uid(string node) => _root.GetProperty("uids").GetProperty(node).GetString()!;

    public string Socket(string name) => _root.GetProperty("sockets").GetProperty(name).GetString()!;
}
