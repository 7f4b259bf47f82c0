using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Duplex.SocketIO.Adapters;

namespace Duplex.SocketIO.Redis;

/// <summary>The request types of <c>@socket.io/redis-adapter</c> (its <c>RequestType</c> enum); the numbers are on the wire.</summary>
internal enum RedisRequestType
{
    Sockets = 0,
    AllRooms = 1,
    RemoteJoin = 2,
    RemoteLeave = 3,
    RemoteDisconnect = 4,
    RemoteFetch = 5,
    ServerSideEmit = 6,
    Broadcast = 7,
    BroadcastClientCount = 8,
    BroadcastAck = 9,
}

/// <summary>A broadcast another node published: who sent it, the packet (null when it is for another namespace), and its selection and flags.</summary>
internal sealed record RemoteBroadcast(string? Uid, SocketIOPacket? Packet, BroadcastOptions Options);

/// <summary>A socket as <c>fetchSockets</c> answers describe it (the reference's <c>RemoteSocket</c> data).</summary>
internal sealed record RemoteSocket(string Id, JsonElement Handshake, IReadOnlySet<string> Rooms, JsonElement Data);

/// <summary>A request from the request channel; <see cref="Uid"/> is its sender, <see cref="RequestId"/> null when no answer is expected.</summary>
internal abstract record RedisRequest(RedisRequestType Type, string? Uid, string? RequestId);

/// <summary>SOCKETS (0): the ids of the sockets in any of <see cref="Rooms"/> (every socket when empty).</summary>
internal sealed record SocketsRequest(string? Uid, string? RequestId, IReadOnlySet<string> Rooms) : RedisRequest(RedisRequestType.Sockets, Uid, RequestId);

/// <summary>ALL_ROOMS (1): every room of the node.</summary>
internal sealed record AllRoomsRequest(string? Uid, string? RequestId) : RedisRequest(RedisRequestType.AllRooms, Uid, RequestId);

/// <summary>
/// REMOTE_JOIN (2), REMOTE_LEAVE (3), REMOTE_DISCONNECT (4). With <see cref="Selection"/> (8.x's
/// <c>opts</c>), the selected sockets join/leave <see cref="Rooms"/> or disconnect; without it, the older
/// form names one socket (<see cref="Sid"/>, <see cref="Room"/>) and expects an answer.
/// </summary>
internal sealed record SelectionRequest(RedisRequestType Type, string? Uid, string? RequestId, BroadcastOptions? Selection,
    IReadOnlySet<string> Rooms, bool Close, string? Sid, string? Room) : RedisRequest(Type, Uid, RequestId);

/// <summary>REMOTE_FETCH (5): describe the selected sockets.</summary>
internal sealed record FetchRequest(string? Uid, string? RequestId, BroadcastOptions Selection) : RedisRequest(RedisRequestType.RemoteFetch, Uid, RequestId);

/// <summary>SERVER_SIDE_EMIT (6): <see cref="Data"/> is <c>[event, ...args]</c>; answered (once) when it has a request id.</summary>
internal sealed record ServerSideEmitRequest(string? Uid, string? RequestId, JsonElement Data, IReadOnlyList<byte[]> Attachments)
    : RedisRequest(RedisRequestType.ServerSideEmit, Uid, RequestId);

/// <summary>BROADCAST (7): a broadcast whose clients' acks are wanted; <see cref="Packet"/> is null when it is for another namespace.</summary>
internal sealed record BroadcastRequest(string? Uid, string? RequestId, SocketIOPacket? Packet, BroadcastOptions Options)
    : RedisRequest(RedisRequestType.Broadcast, Uid, RequestId);

/// <summary>
/// An answer from a response channel. Its meaning depends on the request it answers, which only the
/// requester knows, so the parts are read on demand: <see cref="ClientCount"/> and <see cref="AckArguments"/>
/// for a broadcast with acks, <see cref="ReadSockets"/> for a fetch, <see cref="Data"/> for a server-side emit,
/// <see cref="ReadStrings"/> for SOCKETS and ALL_ROOMS.
/// </summary>
internal sealed class RedisResponse(JsonElement body, IReadOnlyList<byte[]> attachments)
{
    /// <summary>The request this answers; null makes it nobody's.</summary>
    public string? RequestId { get; } = RedisAdapterCodec.GetString(body, "requestId");

    /// <summary>The <c>type</c> the answer carries (broadcast-with-ack and server-side-emit answers have one), else null.</summary>
    public RedisRequestType? Type { get; } = body.TryGetProperty("type", out var t) && RedisAdapterCodec.TryGetInt32(t, out int v) ? (RedisRequestType)v : null;

    /// <summary>The binary parts of a MessagePack answer, which the placeholders in it point into.</summary>
    public IReadOnlyList<byte[]> Attachments { get; } = attachments;

    /// <summary>BROADCAST_CLIENT_COUNT's <c>clientCount</c>, null when absent or not an integer.</summary>
    public int? ClientCount => Body.TryGetProperty("clientCount", out var cc) && RedisAdapterCodec.TryGetInt32(cc, out int count) ? count : null;

    /// <summary>BROADCAST_ACK's <c>packet</c> (the client's first ack argument) as an argument array: <c>[packet]</c>, or <c>[]</c> when absent.</summary>
    public JsonElement AckArguments
    {
        get
        {
            var text = Body.TryGetProperty("packet", out var p) ? "[" + p.GetRawText() + "]" : "[]";
            using var document = JsonDocument.Parse(Encoding.UTF8.GetBytes(text));
            return document.RootElement.Clone();
        }
    }

    /// <summary>A server-side emit's answer (<c>data</c>); undefined when absent.</summary>
    public JsonElement Data => Body.TryGetProperty("data", out var d) ? d.Clone() : default;

    /// <summary>The whole answer, as JSON (binary parts as placeholders into <see cref="Attachments"/>).</summary>
    public JsonElement Body { get; } = body;

    /// <summary>
    /// REMOTE_FETCH's <c>sockets</c>; null when it has none. Entries without an id are skipped, as the
    /// reference cannot address them either; an entry that is not an object throws <see cref="FormatException"/>.
    /// </summary>
    public IReadOnlyList<RemoteSocket>? ReadSockets()
    {
        if (!Body.TryGetProperty("sockets", out var sockets) || sockets.ValueKind != JsonValueKind.Array) return null;
        var result = new List<RemoteSocket>(sockets.GetArrayLength());
        foreach (var s in sockets.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Object) throw new FormatException("fetched socket is not an object");
            string? id = RedisAdapterCodec.GetString(s, "id");
            if (id is null) continue;
            result.Add(new RemoteSocket(id,
                s.TryGetProperty("handshake", out var h) ? h.Clone() : default,
                RedisAdapterCodec.ReadRooms(s, "rooms"),
                s.TryGetProperty("data", out var d) ? d.Clone() : default));
        }
        return result;
    }

    /// <summary>A list of strings (SOCKETS' <c>sockets</c>, ALL_ROOMS' <c>rooms</c>); null when absent.</summary>
    public IReadOnlyList<string>? ReadStrings(string name)
    {
        if (!Body.TryGetProperty(name, out var list) || list.ValueKind != JsonValueKind.Array) return null;
        return list.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()).ToArray();
    }
}

/// <summary>
/// The wire format of <c>@socket.io/redis-adapter</c> 8.x (the classic, non-sharded adapter) for one
/// namespace, without any I/O: its channel names, and every message it publishes, as bytes and back.
/// <list type="bullet">
/// <item>broadcasts: MessagePack <c>[uid, {type, data, nsp}, {rooms, except, flags}]</c> on <c>{key}#{nsp}#</c>,
/// or <c>{key}#{nsp}#{room}#</c> when exactly one room is selected;</item>
/// <item>requests on <c>{key}-request#{nsp}#</c>: JSON objects <c>{uid, requestId?, type, …}</c>, except
/// BROADCAST (it carries a packet, so binary) in MessagePack;</item>
/// <item>answers on <c>{key}-response#{nsp}#</c> or the requester's <c>…#{uid}#</c>: JSON, except BROADCAST_ACK
/// (a client's answer, maybe binary) in MessagePack.</item>
/// </list>
/// Readers tell the two encodings apart as the reference does: a message starting with <c>{</c> is JSON.
/// Key order and number widths follow what Node writes (JSON.stringify of its objects, notepack.io), so
/// the bytes match the reference's for the same logical message (tests/…/Fixtures/node-redis-adapter.json).
/// Malformed input throws <see cref="FormatException"/> or <see cref="JsonException"/>.
/// </summary>
internal sealed class RedisAdapterCodec
{
    /// <param name="key">The channel prefix (<c>opts.key</c>, "socket.io" by default).</param>
    /// <param name="ns">The namespace's name, such as "/".</param>
    public RedisAdapterCodec(string key, string ns)
    {
        Namespace = ns;
        BroadcastChannel = key + "#" + ns + "#";
        RequestChannel = key + "-request#" + ns + "#";
        ResponseChannel = key + "-response#" + ns + "#";
    }

    /// <summary>The namespace whose messages these are.</summary>
    public string Namespace { get; }

    /// <summary><c>{key}#{nsp}#</c>: broadcasts to no single room.</summary>
    public string BroadcastChannel { get; }

    /// <summary>The pattern every node subscribes to for broadcasts: its own channel and every room's.</summary>
    public string BroadcastPattern => BroadcastChannel + "*";

    /// <summary><c>{key}-request#{nsp}#</c>; its subscriber count is the number of servers.</summary>
    public string RequestChannel { get; }

    /// <summary><c>{key}-response#{nsp}#</c>, the shared response channel.</summary>
    public string ResponseChannel { get; }

    /// <summary><c>{key}-response#{nsp}#{uid}#</c>: answers for node <paramref name="uid"/> only (<c>publishOnSpecificResponseChannel</c>).</summary>
    public string SpecificResponseChannel(string uid) => ResponseChannel + uid + "#";

    /// <summary><c>{key}#{nsp}#{room}#</c>: broadcasts to <paramref name="room"/> alone, which nodes without its members can skip.</summary>
    public string RoomChannel(string room) => BroadcastChannel + room + "#";

    /// <summary>Where a broadcast to <paramref name="options"/> goes: its room's channel when it selects exactly one room.</summary>
    public string BroadcastChannelFor(BroadcastOptions options) =>
        options.Rooms.Count == 1 ? RoomChannel(options.Rooms.First()) : BroadcastChannel;

    /// <summary>
    /// Whether <paramref name="channel"/> carries this namespace's broadcasts; <paramref name="room"/> is the room
    /// of a room channel, "" for the namespace channel (or a room channel too short to name one).
    /// </summary>
    public bool TryGetBroadcastRoom(string channel, out string room)
    {
        room = "";
        if (!channel.StartsWith(BroadcastChannel, StringComparison.Ordinal)) return false;
        // The reference drops the last character (the closing '#') whatever it is.
        if (channel.Length > BroadcastChannel.Length + 1) room = channel[BroadcastChannel.Length..^1];
        return true;
    }

    // ───────────────────────────── broadcasts ─────────────────────────────

    /// <summary>The broadcast message <c>[uid, packet, opts]</c> (MessagePack), flags from <paramref name="options"/>.</summary>
    public byte[] EncodeBroadcast(string uid, SocketIOPacket packet, BroadcastOptions options) => MsgPack.Build(w =>
    {
        w.ArrayHeader(3);
        w.String(uid);
        WritePacket(w, packet);
        WriteOptions(w, options, null);
    });

    /// <summary>Reads a broadcast message; its packet is null when it is for another namespace.</summary>
    public RemoteBroadcast DecodeBroadcast(byte[] message)
    {
        var attachments = new List<byte[]>();
        var envelope = MsgPack.ToJson(message, attachments);
        if (envelope.ValueKind != JsonValueKind.Array || envelope.GetArrayLength() < 3) throw new FormatException("broadcast is not [uid, packet, opts]");
        string? uid = envelope[0].ValueKind == JsonValueKind.String ? envelope[0].GetString() : null;
        return new RemoteBroadcast(uid, ReadPacket(envelope[1], attachments), ReadOptions(envelope[2]));
    }

    // ───────────────────────────── requests ─────────────────────────────

    /// <summary>BROADCAST (MessagePack <c>{uid, requestId, type, packet, opts}</c>), <c>opts.flags.timeout</c> being <paramref name="timeout"/>.</summary>
    public byte[] EncodeBroadcastRequest(string uid, string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout) => MsgPack.Build(w =>
    {
        w.MapHeader(5);
        w.String("uid"); w.String(uid);
        w.String("requestId"); w.String(requestId);
        w.String("type"); w.Int((int)RedisRequestType.Broadcast);
        w.String("packet"); WritePacket(w, packet);
        w.String("opts"); WriteOptions(w, options, timeout);
    });

    /// <summary>REMOTE_FETCH: <c>{uid, requestId, type, opts: {rooms, except}}</c>.</summary>
    public byte[] EncodeFetchRequest(string uid, string requestId, BroadcastOptions selection) => Json(w =>
    {
        WriteHeader(w, uid, requestId, RedisRequestType.RemoteFetch);
        WriteSelection(w, selection);
    });

    /// <summary>REMOTE_JOIN: <c>{uid, type, opts, rooms}</c>, no answer expected.</summary>
    public byte[] EncodeJoinRequest(string uid, BroadcastOptions selection, IEnumerable<string> rooms) => Json(w =>
    {
        WriteHeader(w, uid, null, RedisRequestType.RemoteJoin);
        WriteSelection(w, selection);
        WriteStrings(w, "rooms", rooms);
    });

    /// <summary>REMOTE_LEAVE: <c>{uid, type, opts, rooms}</c>, no answer expected.</summary>
    public byte[] EncodeLeaveRequest(string uid, BroadcastOptions selection, IEnumerable<string> rooms) => Json(w =>
    {
        WriteHeader(w, uid, null, RedisRequestType.RemoteLeave);
        WriteSelection(w, selection);
        WriteStrings(w, "rooms", rooms);
    });

    /// <summary>REMOTE_DISCONNECT: <c>{uid, type, opts, close}</c>, no answer expected.</summary>
    public byte[] EncodeDisconnectRequest(string uid, BroadcastOptions selection, bool close) => Json(w =>
    {
        WriteHeader(w, uid, null, RedisRequestType.RemoteDisconnect);
        WriteSelection(w, selection);
        w.WriteBoolean("close", close);
    });

    /// <summary>SERVER_SIDE_EMIT: <c>{uid, requestId?, type, data}</c>; with a request id, each other server answers once.</summary>
    public byte[] EncodeServerSideEmit(string uid, string? requestId, JsonElement data) => Json(w =>
    {
        WriteHeader(w, uid, requestId, RedisRequestType.ServerSideEmit);
        w.WritePropertyName("data");
        data.WriteTo(w);
    });

    /// <summary>ALL_ROOMS: <c>{uid, requestId, type}</c>.</summary>
    public byte[] EncodeAllRoomsRequest(string uid, string requestId) => Json(w => WriteHeader(w, uid, requestId, RedisRequestType.AllRooms));

    /// <summary>SOCKETS (older servers' <c>allSockets</c>): <c>{uid, requestId, type, rooms}</c>.</summary>
    public byte[] EncodeSocketsRequest(string uid, string requestId, IEnumerable<string> rooms) => Json(w =>
    {
        WriteHeader(w, uid, requestId, RedisRequestType.Sockets);
        WriteStrings(w, "rooms", rooms);
    });

    /// <summary>Reads a request; an unknown type, or one without a type, throws <see cref="FormatException"/>.</summary>
    public RedisRequest DecodeRequest(byte[] message)
    {
        var attachments = new List<byte[]>();
        var request = Decode(message, attachments);
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("type", out var t) || !TryGetInt32(t, out int type))
            throw new FormatException("request without a type");
        string? uid = GetString(request, "uid");
        string? requestId = GetString(request, "requestId");
        var opts = request.TryGetProperty("opts", out var o) ? o : default;
        switch ((RedisRequestType)type)
        {
            case RedisRequestType.Sockets:
                return new SocketsRequest(uid, requestId, ReadRooms(request, "rooms"));
            case RedisRequestType.AllRooms:
                return new AllRoomsRequest(uid, requestId);
            case RedisRequestType.RemoteJoin or RedisRequestType.RemoteLeave or RedisRequestType.RemoteDisconnect:
                return new SelectionRequest((RedisRequestType)type, uid, requestId,
                    opts.ValueKind == JsonValueKind.Object ? ReadSelection(opts) : null,
                    ReadRooms(request, "rooms"),
                    request.TryGetProperty("close", out var c) && c.ValueKind == JsonValueKind.True,
                    GetString(request, "sid"), GetString(request, "room"));
            case RedisRequestType.RemoteFetch:
                return new FetchRequest(uid, requestId, ReadSelection(opts));
            case RedisRequestType.ServerSideEmit:
                if (!request.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array) throw new FormatException("server-side emit without data");
                return new ServerSideEmitRequest(uid, requestId, data, attachments);
            case RedisRequestType.Broadcast:
                return new BroadcastRequest(uid, requestId,
                    ReadPacket(request.TryGetProperty("packet", out var p) ? p : default, attachments), ReadOptions(opts));
            default:
                throw new FormatException($"unknown request type {type}");
        }
    }

    // ───────────────────────────── responses ─────────────────────────────

    /// <summary>REMOTE_FETCH's answer: <c>{requestId, sockets: [{id, handshake, rooms, data}]}</c>.</summary>
    public byte[] EncodeFetchResponse(string requestId, IEnumerable<RemoteSocket> sockets) => Json(w =>
    {
        w.WriteString("requestId", requestId);
        w.WriteStartArray("sockets");
        foreach (var socket in sockets)
        {
            w.WriteStartObject();
            w.WriteString("id", socket.Id);
            w.WritePropertyName("handshake");
            socket.Handshake.WriteTo(w);
            WriteStrings(w, "rooms", socket.Rooms);
            w.WritePropertyName("data");
            socket.Data.WriteTo(w);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    /// <summary>SOCKETS' answer <c>{requestId, sockets: [ids]}</c>, or ALL_ROOMS' <c>{requestId, rooms: [names]}</c>: one list under <paramref name="name"/>.</summary>
    public byte[] EncodeListResponse(string requestId, string name, IEnumerable<string> values) => Json(w =>
    {
        w.WriteString("requestId", requestId);
        WriteStrings(w, name, values);
    });

    /// <summary>A server-side emit's answer: <c>{type: 6, requestId, data}</c>, <paramref name="data"/> being the handler's one ack argument.</summary>
    public byte[] EncodeServerSideEmitResponse(string requestId, JsonElement data) => Json(w =>
    {
        w.WriteNumber("type", (int)RedisRequestType.ServerSideEmit);
        w.WriteString("requestId", requestId);
        w.WritePropertyName("data");
        data.WriteTo(w);
    });

    /// <summary>BROADCAST_CLIENT_COUNT: <c>{type: 8, requestId, clientCount}</c>, how many of this node's clients got the packet.</summary>
    public byte[] EncodeClientCountResponse(string requestId, int clientCount) => Json(w =>
    {
        w.WriteNumber("type", (int)RedisRequestType.BroadcastClientCount);
        w.WriteString("requestId", requestId);
        w.WriteNumber("clientCount", clientCount);
    });

    /// <summary>
    /// BROADCAST_ACK (MessagePack <c>{type: 9, requestId, packet}</c>): <paramref name="answer"/> is the client's
    /// first ack argument (placeholders into <paramref name="attachments"/> become bin), nil when it sent none.
    /// </summary>
    public byte[] EncodeBroadcastAckResponse(string requestId, JsonElement? answer, IReadOnlyList<byte[]> attachments) => MsgPack.Build(w =>
    {
        w.MapHeader(3);
        w.String("type"); w.Int((int)RedisRequestType.BroadcastAck);
        w.String("requestId"); w.String(requestId);
        w.String("packet");
        if (answer is { } a) w.WriteJson(a, attachments);
        else w.Nil();
    });

    /// <summary>The answer to the older, single-socket REMOTE_JOIN/LEAVE/DISCONNECT: <c>{requestId}</c>.</summary>
    public byte[] EncodeDoneResponse(string requestId) => Json(w => w.WriteString("requestId", requestId));

    /// <summary>Reads an answer, JSON or MessagePack.</summary>
    public RedisResponse DecodeResponse(byte[] message)
    {
        var attachments = new List<byte[]>();
        var response = Decode(message, attachments);
        if (response.ValueKind != JsonValueKind.Object) throw new FormatException("response is not an object");
        return new RedisResponse(response, attachments);
    }

    // ───────────────────────────── parts ─────────────────────────────

    /// <summary>As the reference reads requests and answers: JSON when the first byte is '{', else MessagePack.</summary>
    private static JsonElement Decode(byte[] message, List<byte[]> attachments)
    {
        if (message.Length > 0 && message[0] == (byte)'{')
        {
            // JsonDocument leaves strings' UTF-8 unchecked until they are read, which then throws
            // InvalidOperationException: refuse such a message here, as malformed.
            if (!System.Text.Unicode.Utf8.IsValid(message)) throw new FormatException("JSON message is not UTF-8");
            using var document = JsonDocument.Parse(message);
            return document.RootElement.Clone();
        }
        return MsgPack.ToJson(message, attachments);
    }

    /// <summary>
    /// Escapes only what JSON needs (quotes, backslashes, control characters), as JSON.stringify does, so the
    /// bytes match Node's (the default encoder writes '+', '&amp;', '&lt;' and all non-ASCII as \uXXXX, which
    /// Node reads the same but which made a fetch answer's handshake differ byte for byte). These messages
    /// never reach a browser, so the HTML-safe escaping buys nothing. Characters outside the BMP are still
    /// written as surrogate escapes (System.Text.Encodings.Web always does); JSON.parse reads them back alike.
    /// </summary>
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The reference's request prefix, in its key order: uid, requestId (when there is one), type.</summary>
    private static void WriteHeader(Utf8JsonWriter writer, string uid, string? requestId, RedisRequestType type)
    {
        writer.WriteString("uid", uid);
        if (requestId is not null) writer.WriteString("requestId", requestId);
        writer.WriteNumber("type", (int)type);
    }

    internal static void WriteStrings(Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values) writer.WriteStringValue(value);
        writer.WriteEndArray();
    }

    private static void WriteSelection(Utf8JsonWriter writer, BroadcastOptions options)
    {
        writer.WriteStartObject("opts");
        WriteStrings(writer, "rooms", options.Rooms);
        WriteStrings(writer, "except", options.Except);
        writer.WriteEndObject();
    }

    internal static void WritePacket(MsgPack.Writer w, SocketIOPacket packet)
    {
        // Node's packets carry their binary parts inline and are typed EVENT/ACK: its encoder finds
        // the binary itself, and would write a BINARY_EVENT with inline buffers as broken JSON.
        var type = packet.Type switch
        {
            SocketIOPacketType.BinaryEvent => SocketIOPacketType.Event,
            SocketIOPacketType.BinaryAck => SocketIOPacketType.Ack,
            var t => t,
        };
        w.MapHeader(3);
        w.String("type");
        w.Int((int)type);
        w.String("data");
        if (packet.Data is { } data) w.WriteJson(data, packet.Attachments);
        else w.Nil();
        w.String("nsp");
        w.String(packet.Namespace);
    }

    /// <summary>
    /// <c>{rooms, except, flags}</c>; flags holds only what differs from the defaults, as the reference's
    /// BroadcastOperator sets them: volatile, compress (false), timeout (milliseconds).
    /// </summary>
    internal static void WriteOptions(MsgPack.Writer w, BroadcastOptions options, TimeSpan? timeout)
    {
        w.MapHeader(3);
        w.String("rooms");
        w.StringArray(options.Rooms);
        w.String("except");
        w.StringArray(options.Except);
        w.String("flags");
        int flags = (options.Volatile ? 1 : 0) + (options.Compress ? 0 : 1) + (timeout is null ? 0 : 1);
        w.MapHeader(flags);
        if (options.Volatile) { w.String("volatile"); w.Bool(true); }
        if (!options.Compress) { w.String("compress"); w.Bool(false); }
        if (timeout is { } t) { w.String("timeout"); w.Int((long)t.TotalMilliseconds); }
    }

    /// <summary>An Int32 from a JSON number; false for any other kind of value (where <see cref="JsonElement.TryGetInt32"/> throws).</summary>
    internal static bool TryGetInt32(JsonElement value, out int result)
    {
        result = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out result);
    }

    internal static string? GetString(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

    internal static HashSet<string> ReadRooms(JsonElement holder, string name)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (holder.ValueKind == JsonValueKind.Object && holder.TryGetProperty(name, out var rooms) && rooms.ValueKind == JsonValueKind.Array)
            foreach (var room in rooms.EnumerateArray())
                set.Add(room.ValueKind == JsonValueKind.String ? room.GetString()! : room.GetRawText());
        return set;
    }

    internal static BroadcastOptions ReadSelection(JsonElement opts)
    {
        if (opts.ValueKind != JsonValueKind.Object) return BroadcastOptions.All;
        return BroadcastOptions.All with { Rooms = ReadRooms(opts, "rooms"), Except = ReadRooms(opts, "except") };
    }

    internal static BroadcastOptions ReadOptions(JsonElement opts)
    {
        var options = ReadSelection(opts);
        if (opts.ValueKind == JsonValueKind.Object && opts.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Object)
        {
            options = options with
            {
                Volatile = flags.TryGetProperty("volatile", out var v) && v.ValueKind == JsonValueKind.True,
                Compress = !(flags.TryGetProperty("compress", out var c) && c.ValueKind == JsonValueKind.False),
                // Node's timers take at most 2^31-1 ms, and so do ours (a CancellationTokenSource): longer is that.
                Timeout = flags.TryGetProperty("timeout", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetDouble(out double ms) && ms > 0
                    ? TimeSpan.FromMilliseconds(Math.Min(ms, int.MaxValue)) : null,
            };
        }
        return options;
    }

    /// <summary>
    /// A packet from another node: null when it is for another namespace (the reference reads a missing nsp
    /// as "/"), else checked to be an event <c>[name, ...args]</c> before any client sees it.
    /// </summary>
    private SocketIOPacket? ReadPacket(JsonElement packet, List<byte[]> attachments) => ReadPacket(packet, attachments, Namespace);

    /// <summary>
    /// As <see cref="ReadPacket(JsonElement, List{byte[]})"/>, for namespace <paramref name="ns"/>; a packet
    /// without nsp is taken to be for <paramref name="missingNsp"/>.
    /// </summary>
    internal static SocketIOPacket? ReadPacket(JsonElement packet, List<byte[]> attachments, string ns, string missingNsp = "/")
    {
        if (packet.ValueKind != JsonValueKind.Object) throw new FormatException("packet is not an object");
        string nsp = packet.TryGetProperty("nsp", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : missingNsp;
        if (nsp != ns) return null;
        int type = packet.TryGetProperty("type", out var t) && TryGetInt32(t, out int tv) ? tv : -1;
        if (type is not ((int)SocketIOPacketType.Event or (int)SocketIOPacketType.BinaryEvent)) throw new FormatException($"packet type {type} is not an event");
        if (!packet.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0
            || data[0].ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            throw new FormatException("event data is not [name, ...args]");
        var result = new SocketIOPacket { Type = attachments.Count > 0 ? SocketIOPacketType.BinaryEvent : SocketIOPacketType.Event, Namespace = nsp, Data = data, AttachmentCount = attachments.Count };
        result.Attachments.AddRange(attachments);
        return result;
    }
}
