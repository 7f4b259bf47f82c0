using System.Text.Json;
using Duplex.SocketIO.Adapters;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis;

/// <summary>The message types of socket.io-adapter's <c>ClusterAdapter</c> (its <c>MessageType</c> enum); the numbers are on the wire.</summary>
internal enum ClusterMessageType
{
    InitialHeartbeat = 1,
    Heartbeat = 2,
    Broadcast = 3,
    SocketsJoin = 4,
    SocketsLeave = 5,
    DisconnectSockets = 6,
    FetchSockets = 7,
    FetchSocketsResponse = 8,
    ServerSideEmit = 9,
    ServerSideEmitResponse = 10,
    BroadcastClientCount = 11,
    BroadcastAck = 12,
    AdapterClose = 13,
}

/// <summary>
/// A message of another node, from the stream or from pub/sub: its type, sender, namespace and <c>data</c>
/// (binary parts as placeholders into <see cref="Attachments"/>); <see cref="Data"/> is undefined when it had none.
/// </summary>
internal sealed record ClusterMessage(ClusterMessageType Type, string? Uid, string? Nsp, JsonElement Data, List<byte[]> Attachments)
{
    /// <summary><c>data.requestId</c>, null when absent (a broadcast without acks, a server-side emit without one).</summary>
    public string? RequestId => Data.ValueKind == JsonValueKind.Object ? RedisAdapterCodec.GetString(Data, "requestId") : null;

    /// <summary>A member of <c>data</c>; undefined when absent.</summary>
    public JsonElement Get(string name) => Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(name, out var v) ? v : default;
}

/// <summary>A session <c>persistSession</c> stored: socket id, private id, rooms, and <c>data</c> as JSON.</summary>
internal sealed record StoredSession(string Sid, string Pid, IReadOnlyList<string> Rooms, JsonElement Data);

/// <summary>
/// The wire format of <c>@socket.io/redis-streams-adapter</c> 0.3.x, without any I/O.
/// <list type="bullet">
/// <item>stream entries (XADD to <c>{streamName}</c>): fields <c>uid</c>, <c>nsp</c>, <c>type</c> (the
/// <see cref="ClusterMessageType"/> number as text) and <c>data</c>: JSON text, or — when a broadcast carries
/// binary — base64 of its MessagePack. Broadcasts without acks (3), joins (4), leaves (5) and disconnects (6) go here;</item>
/// <item>pub/sub (PUBLISH to <c>{prefix}#{nsp}#</c>, answers to <c>{prefix}#{nsp}#{uid}#</c>): the whole message
/// <c>{type, data, uid, nsp}</c> in MessagePack, for what is worth nothing later: broadcasts with acks,
/// fetches, server-side emits and every answer;</item>
/// <item>sessions (SET <c>{sessionKeyPrefix}{pid}</c>): base64 of MessagePack <c>{sid, pid, rooms, data}</c>.</item>
/// </list>
/// Keys are in the order Node's objects have them (ClusterAdapter builds <c>{type, data}</c>, then sets uid and nsp),
/// so the bytes match what a Node node writes for the same message. Malformed input throws <see cref="FormatException"/>
/// or <see cref="JsonException"/>.
/// </summary>
internal sealed class RedisStreamsCodec(string channelPrefix, string ns)
{
    /// <summary>The namespace whose messages these are.</summary>
    public string Namespace { get; } = ns;

    /// <summary><c>{prefix}#{nsp}#</c>: requests every node of the namespace hears; its subscriber count is the number of servers.</summary>
    public string PublicChannel { get; } = channelPrefix + "#" + ns + "#";

    /// <summary><c>{prefix}#{nsp}#{uid}#</c>: answers for node <paramref name="uid"/>.</summary>
    public string PrivateChannel(string uid) => PublicChannel + uid + "#";

    // ───────────────────────────── stream entries ─────────────────────────────

    /// <summary>An entry's fields in the reference's order: uid, nsp, type, data.</summary>
    public NameValueEntry[] Entry(string uid, ClusterMessageType type, string data) =>
    [
        new("uid", uid),
        new("nsp", Namespace),
        new("type", ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("data", data),
    ];

    /// <summary>
    /// BROADCAST's <c>data</c>, <c>{packet, opts}</c>: JSON, or base64 MessagePack when the packet has binary parts
    /// (the reference checks for binary and encodes those with MessagePack).
    /// </summary>
    public static string BroadcastData(SocketIOPacket packet, BroadcastOptions options)
    {
        if (packet.Attachments.Count > 0)
            return Convert.ToBase64String(MsgPack.Build(w =>
            {
                w.MapHeader(2);
                w.String("packet"); WritePacket(w, packet);
                w.String("opts"); RedisAdapterCodec.WriteOptions(w, options, null);
            }));
        return Text(RedisAdapterCodec.Json(w =>
        {
            w.WriteStartObject("packet");
            w.WriteNumber("type", (int)SocketIOPacketType.Event);
            w.WritePropertyName("data");
            (packet.Data ?? default).WriteTo(w);
            w.WriteEndObject();
            WriteOptions(w, options, null);
        }));
    }

    /// <summary>SOCKETS_JOIN's and SOCKETS_LEAVE's <c>data</c>: <c>{opts, rooms}</c>.</summary>
    public static string RoomsData(BroadcastOptions selection, IEnumerable<string> rooms) => Text(RedisAdapterCodec.Json(w =>
    {
        WriteOptions(w, selection, null);
        RedisAdapterCodec.WriteStrings(w, "rooms", rooms);
    }));

    /// <summary>DISCONNECT_SOCKETS' <c>data</c>: <c>{opts, close}</c>.</summary>
    public static string DisconnectData(BroadcastOptions selection, bool close) => Text(RedisAdapterCodec.Json(w =>
    {
        WriteOptions(w, selection, null);
        w.WriteBoolean("close", close);
    }));

    /// <summary>
    /// Reads an entry; null when it names no namespace (the reference skips those). A <c>data</c> starting with
    /// <c>{</c> is JSON, any other base64 MessagePack, as the reference tells them apart.
    /// </summary>
    public static ClusterMessage? DecodeEntry(NameValueEntry[] fields)
    {
        string? uid = null, nsp = null, type = null, data = null;
        foreach (var field in fields)
        {
            switch ((string?)field.Name)
            {
                case "uid": uid = field.Value; break;
                case "nsp": nsp = field.Value; break;
                case "type": type = field.Value; break;
                case "data": data = field.Value; break;
            }
        }
        if (string.IsNullOrEmpty(nsp)) return null;
        if (!int.TryParse(type, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int t))
            throw new FormatException($"stream entry type '{type}' is not a number");
        var attachments = new List<byte[]>();
        JsonElement body = default;
        if (!string.IsNullOrEmpty(data))
        {
            if (data[0] == '{')
            {
                using var document = JsonDocument.Parse(data);
                body = document.RootElement.Clone();
            }
            else body = MsgPack.ToJson(Convert.FromBase64String(data), attachments);
        }
        return new ClusterMessage((ClusterMessageType)t, uid, nsp, body, attachments);
    }

    // ───────────────────────────── pub/sub ─────────────────────────────

    /// <summary>BROADCAST with acks: <c>{type: 3, data: {packet, requestId, opts}, uid, nsp}</c>, <c>opts.flags.timeout</c> being <paramref name="timeout"/>.</summary>
    public byte[] EncodeBroadcastWithAck(string uid, string requestId, SocketIOPacket packet, BroadcastOptions options, TimeSpan timeout) =>
        Message(uid, ClusterMessageType.Broadcast, 3, w =>
        {
            w.String("packet"); WritePacket(w, packet);
            w.String("requestId"); w.String(requestId);
            w.String("opts"); RedisAdapterCodec.WriteOptions(w, options, timeout);
        });

    /// <summary>FETCH_SOCKETS: <c>{type: 7, data: {opts, requestId}, uid, nsp}</c>.</summary>
    public byte[] EncodeFetchSockets(string uid, string requestId, BroadcastOptions selection, TimeSpan? timeout) =>
        Message(uid, ClusterMessageType.FetchSockets, 2, w =>
        {
            w.String("opts"); RedisAdapterCodec.WriteOptions(w, selection with { Compress = true, Volatile = false }, timeout);
            w.String("requestId"); w.String(requestId);
        });

    /// <summary>SERVER_SIDE_EMIT: <c>{type: 9, data: {requestId?, packet: [event, ...args]}, uid, nsp}</c>.</summary>
    public byte[] EncodeServerSideEmit(string uid, string? requestId, JsonElement packet, IReadOnlyList<byte[]>? attachments) =>
        Message(uid, ClusterMessageType.ServerSideEmit, requestId is null ? 1 : 2, w =>
        {
            if (requestId is not null) { w.String("requestId"); w.String(requestId); }
            w.String("packet"); w.WriteJson(packet, attachments);
        });

    /// <summary>FETCH_SOCKETS_RESPONSE: <c>{type: 8, data: {requestId, sockets: [{id, handshake, rooms, data}]}, uid, nsp}</c>.</summary>
    public byte[] EncodeFetchResponse(string uid, string requestId, IReadOnlyList<RemoteSocket> sockets) =>
        Message(uid, ClusterMessageType.FetchSocketsResponse, 2, w =>
        {
            w.String("requestId"); w.String(requestId);
            w.String("sockets");
            w.ArrayHeader(sockets.Count);
            foreach (var socket in sockets)
            {
                w.MapHeader(4);
                w.String("id"); w.String(socket.Id);
                w.String("handshake"); w.WriteJson(socket.Handshake, null);
                w.String("rooms"); w.StringArray(socket.Rooms);
                w.String("data"); w.WriteJson(socket.Data, null);
            }
        });

    /// <summary>SERVER_SIDE_EMIT_RESPONSE (10) and BROADCAST_ACK (12): <c>{type, data: {requestId, packet}, uid, nsp}</c>, <paramref name="packet"/> the one answer (nil when none).</summary>
    public byte[] EncodeAnswer(string uid, ClusterMessageType type, string requestId, JsonElement? packet, IReadOnlyList<byte[]>? attachments) =>
        Message(uid, type, 2, w =>
        {
            w.String("requestId"); w.String(requestId);
            w.String("packet");
            if (packet is { ValueKind: not JsonValueKind.Undefined } p) w.WriteJson(p, attachments);
            else w.Nil();
        });

    /// <summary>BROADCAST_CLIENT_COUNT: <c>{type: 11, data: {requestId, clientCount}, uid, nsp}</c>.</summary>
    public byte[] EncodeClientCount(string uid, string requestId, int clientCount) =>
        Message(uid, ClusterMessageType.BroadcastClientCount, 2, w =>
        {
            w.String("requestId"); w.String(requestId);
            w.String("clientCount"); w.Int(clientCount);
        });

    /// <summary>Reads a pub/sub message (MessagePack <c>{type, data, uid, nsp}</c>).</summary>
    public static ClusterMessage DecodeMessage(byte[] payload)
    {
        var attachments = new List<byte[]>();
        var message = MsgPack.ToJson(payload, attachments);
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("type", out var t) || !RedisAdapterCodec.TryGetInt32(t, out int type))
            throw new FormatException("cluster message without a type");
        return new ClusterMessage((ClusterMessageType)type, RedisAdapterCodec.GetString(message, "uid"), RedisAdapterCodec.GetString(message, "nsp"),
            message.TryGetProperty("data", out var d) ? d : default, attachments);
    }

    // ───────────────────────────── sessions ─────────────────────────────

    /// <summary>A session as the reference stores it: base64 of MessagePack <c>{sid, pid, rooms, data}</c>.</summary>
    public static string EncodeSession(string sid, string pid, IEnumerable<string> rooms, JsonElement data) =>
        Convert.ToBase64String(MsgPack.Build(w =>
        {
            w.MapHeader(4);
            w.String("sid"); w.String(sid);
            w.String("pid"); w.String(pid);
            w.String("rooms"); w.StringArray(rooms);
            w.String("data"); w.WriteJson(data, null);
        }));

    /// <summary>Reads a stored session; one without a sid or pid throws <see cref="FormatException"/>.</summary>
    public static StoredSession DecodeSession(string stored)
    {
        var session = MsgPack.ToJson(Convert.FromBase64String(stored), new List<byte[]>());
        if (session.ValueKind != JsonValueKind.Object) throw new FormatException("session is not a map");
        string sid = RedisAdapterCodec.GetString(session, "sid") ?? throw new FormatException("session without sid");
        string pid = RedisAdapterCodec.GetString(session, "pid") ?? throw new FormatException("session without pid");
        return new StoredSession(sid, pid, RedisAdapterCodec.ReadRooms(session, "rooms").ToArray(),
            session.TryGetProperty("data", out var data) ? data.Clone() : default);
    }

    // ───────────────────────────── parts ─────────────────────────────

    private byte[] Message(string uid, ClusterMessageType type, int dataMembers, Action<MsgPack.Writer> writeData) => MsgPack.Build(w =>
    {
        w.MapHeader(4);
        w.String("type"); w.Int((int)type);
        w.String("data");
        w.MapHeader(dataMembers);
        writeData(w);
        w.String("uid"); w.String(uid);
        w.String("nsp"); w.String(Namespace);
    });

    /// <summary>
    /// A packet as Node's ClusterAdapter publishes it: <c>{type: 2, data}</c>, without nsp (the reference's
    /// operator makes the packet without one, and its in-memory adapter adds it only after publishing); readers
    /// take the message's nsp. Binary parts are inline bin, so the type is EVENT.
    /// </summary>
    private static void WritePacket(MsgPack.Writer w, SocketIOPacket packet)
    {
        w.MapHeader(2);
        w.String("type"); w.Int((int)SocketIOPacketType.Event);
        w.String("data");
        if (packet.Data is { } data) w.WriteJson(data, packet.Attachments);
        else w.Nil();
    }

    /// <summary><c>"opts": {rooms, except, flags}</c> as JSON; flags as the MessagePack form writes them.</summary>
    private static void WriteOptions(Utf8JsonWriter w, BroadcastOptions options, TimeSpan? timeout)
    {
        w.WriteStartObject("opts");
        RedisAdapterCodec.WriteStrings(w, "rooms", options.Rooms);
        RedisAdapterCodec.WriteStrings(w, "except", options.Except);
        w.WriteStartObject("flags");
        if (options.Volatile) w.WriteBoolean("volatile", true);
        if (!options.Compress) w.WriteBoolean("compress", false);
        if (timeout is { } t) w.WriteNumber("timeout", (long)t.TotalMilliseconds);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string Text(byte[] utf8) => System.Text.Encoding.UTF8.GetString(utf8);
}
