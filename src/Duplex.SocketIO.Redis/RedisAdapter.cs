using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis;

/// <summary>
/// Rooms and broadcasts of one namespace across every server on the same Redis, speaking the protocol
/// of <c>@socket.io/redis-adapter</c> 8.x, so Node socket.io servers, <c>@socket.io/redis-emitter</c>
/// and Duplex servers can share a cluster:
/// <list type="bullet">
/// <item>broadcasts: MessagePack <c>[uid, packet, {rooms, except, flags}]</c> published on
/// <c>{key}#{nsp}#</c>, or <c>{key}#{nsp}#{room}#</c> when there is exactly one room; every server
/// pattern-subscribes to <c>{key}#{nsp}#*</c> and drops its own (same uid);</item>
/// <item>requests (fetch, join, leave, disconnect, server-side emit, broadcast with acks) on
/// <c>{key}-request#{nsp}#</c>, as JSON, or MessagePack when they carry a packet; answers on
/// <c>{key}-response#{nsp}#</c> (or the requester's own <c>…#{uid}#</c>);</item>
/// <item>the number of servers: <c>PUBSUB NUMSUB</c> of the request channel (each server subscribes to
/// it once per namespace, so each server needs its own connection).</item>
/// </list>
/// Redis being away never takes the server down: its own clients are served, publishes are dropped,
/// logged and counted, cluster requests answer with this server's part, and StackExchange.Redis
/// reconnects and resubscribes by itself. What was published meanwhile is lost (pub/sub keeps nothing).
/// </summary>
public sealed class RedisAdapter : SocketIOAdapter
{
    private enum RequestType
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

    private sealed class PendingRequest(RequestType type, int expected)
    {
        public RequestType Type { get; } = type;
        public int Expected { get; } = expected;
        public int Received;
        public readonly List<FetchedSocket> Sockets = new();
        public readonly List<JsonElement> Responses = new();
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record AckRequest(Action<int> ClientCount, Action<SocketIOArgs?> Ack);

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisAdapterOptions _options;
    private readonly ISubscriber _subscriber;
    private readonly string _channel;
    private readonly string _requestChannel;
    private readonly string _responseChannel;
    private readonly string _specificResponseChannel;
    private readonly ConcurrentDictionary<string, PendingRequest> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AckRequest> _ackRequests = new(StringComparer.Ordinal);
    private readonly List<ChannelMessageQueue> _queues = new();
    private readonly Task _ready;

    /// <summary>
    /// The adapter of <paramref name="ns"/> in the cluster on <paramref name="redis"/>. It subscribes at
    /// once, in the background (<see cref="Ready"/>), and serves this server's sockets meanwhile.
    /// </summary>
    /// <param name="ns">The namespace whose rooms it keeps; its name is part of every channel.</param>
    /// <param name="redis">This server's own connection (servers are counted by their subscriptions). It
    /// is the caller's: disposing the adapter leaves it open.</param>
    /// <param name="options">The channel key, request timeout and response channel; null for the reference's defaults.</param>
    public RedisAdapter(SocketIONamespace ns, IConnectionMultiplexer redis, RedisAdapterOptions? options = null) : base(ns)
    {
        _redis = redis;
        _options = options ?? new RedisAdapterOptions();
        _subscriber = redis.GetSubscriber();
        Uid = NewId();
        _channel = _options.Key + "#" + ns.Name + "#";
        _requestChannel = _options.Key + "-request#" + ns.Name + "#";
        _responseChannel = _options.Key + "-response#" + ns.Name + "#";
        _specificResponseChannel = _responseChannel + Uid + "#";
        _ready = SubscribeAsync();
    }

    /// <summary>This server's id in the cluster (the reference's <c>uid</c>): its own messages carry it.</summary>
    public string Uid { get; }

    /// <summary>
    /// Completes once the adapter's channels (broadcasts, requests, responses) are subscribed. While Redis
    /// is unreachable the subscriptions are retried with backoff, so this waits as long as the outage.
    /// </summary>
    public override Task Ready => _ready;

    /// <summary>How long a cluster request waits when the caller gave no timeout: <see cref="RedisAdapterOptions.RequestsTimeout"/>.</summary>
    public override TimeSpan RequestsTimeout => _options.RequestsTimeout;

    private static string NewId()
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Span<char> id = stackalloc char[6];
        for (int i = 0; i < id.Length; i++) id[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        return new string(id);
    }

    private async Task SubscribeAsync()
    {
        // Queues keep each channel's messages in order (a client sees broadcasts in the order they were sent).
        var broadcasts = await SubscribeUntilDoneAsync(RedisChannel.Pattern(_channel + "*")).ConfigureAwait(false);
        broadcasts.OnMessage(m => Guard(() => OnBroadcast(m.Channel.ToString(), m.Message), "broadcast"));
        var requests = await SubscribeUntilDoneAsync(RedisChannel.Literal(_requestChannel)).ConfigureAwait(false);
        requests.OnMessage(m => Guard(() => OnRequest(m.Message), "request"));
        var responses = await SubscribeUntilDoneAsync(RedisChannel.Literal(_responseChannel)).ConfigureAwait(false);
        responses.OnMessage(m => Guard(() => OnResponse(m.Message), "response"));
        var specific = await SubscribeUntilDoneAsync(RedisChannel.Literal(_specificResponseChannel)).ConfigureAwait(false);
        specific.OnMessage(m => Guard(() => OnResponse(m.Message), "response"));
        lock (_queues) _queues.AddRange([broadcasts, requests, responses, specific]);
    }

    /// <summary>
    /// A server may start before Redis is reachable (or before its connection is up): the subscription
    /// is retried with backoff, logged and counted, until it holds; StackExchange.Redis keeps it across
    /// later reconnections.
    /// </summary>
    private async Task<ChannelMessageQueue> SubscribeUntilDoneAsync(RedisChannel channel)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await _subscriber.SubscribeAsync(channel).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException && !_disposed)
            {
                RedisAdapterMetrics.Error("connection");
                Logger.LogWarning("Socket.IO Redis adapter: cannot subscribe to {Channel} yet ({Reason}); retrying", channel, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6)))).ConfigureAwait(false);
            }
        }
    }

    private volatile bool _disposed;

    /// <summary>Bad input from Redis is logged and counted; it never reaches the subscriber loop as an exception.</summary>
    private void Guard(Action handle, string what)
    {
        try
        {
            handle();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException or KeyNotFoundException or ArgumentException or InvalidCastException or OverflowException)
        {
            RedisAdapterMetrics.Error("malformed");
            Logger.LogWarning("Socket.IO Redis adapter of {Namespace}: ignored a malformed {Kind} message: {Reason}", Namespace.Name, what, ex.Message);
        }
        catch (Exception ex)
        {
            RedisAdapterMetrics.Error("malformed");
            Logger.LogError(ex, "Socket.IO Redis adapter of {Namespace}: failed to handle a {Kind} message", Namespace.Name, what);
        }
    }

    // ───────────────────────────── publishing ─────────────────────────────

    /// <summary>
    /// Publishes without making the caller wait for Redis: local delivery never depends on it. Failures
    /// (Redis away) are logged and counted; StackExchange.Redis keeps the order of what it sends.
    /// </summary>
    private void Publish(string channel, byte[] message)
    {
        Task<long> sending;
        try
        {
            sending = _subscriber.PublishAsync(RedisChannel.Literal(channel), message);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
        {
            PublishFailed(channel, ex);
            return;
        }
        sending.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) RedisAdapterMetrics.Published.Add(1);
            else PublishFailed(channel, t.Exception?.GetBaseException());
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void PublishFailed(string channel, Exception? ex)
    {
        RedisAdapterMetrics.Error("publish");
        Logger.LogWarning("Socket.IO Redis adapter: not published to {Channel} (serving this server's clients only): {Reason}", channel, ex?.Message);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteSelection(Utf8JsonWriter writer, BroadcastOptions options)
    {
        writer.WriteStartObject("opts");
        writer.WriteStartArray("rooms");
        foreach (var room in options.Rooms) writer.WriteStringValue(room);
        writer.WriteEndArray();
        writer.WriteStartArray("except");
        foreach (var room in options.Except) writer.WriteStringValue(room);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WritePacket(MsgPack.Writer w, SocketIOPacket packet)
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

    private static void WriteOptions(MsgPack.Writer w, BroadcastOptions options, TimeSpan? timeout)
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

    // ───────────────────────────── operations ─────────────────────────────

    /// <summary>
    /// Sends the packet to the selected sockets of this server, then, unless <see cref="BroadcastOptions.Local"/>,
    /// publishes it for the others (on the room's own channel when exactly one room is selected) without
    /// waiting for Redis. Returns how many sockets of this server it was handed to.
    /// </summary>
    public override ValueTask<int> BroadcastAsync(BroadcastPacket packet, BroadcastOptions options, CancellationToken cancellationToken = default)
    {
        int local = BroadcastLocal(packet, options);
        if (!options.Local)
        {
            var message = MsgPack.Build(w =>
            {
                w.ArrayHeader(3);
                w.String(Uid);
                WritePacket(w, packet.Packet);
                WriteOptions(w, options, null);
            });
            var channel = options.Rooms.Count == 1 ? _channel + options.Rooms.First() + "#" : _channel;
            Publish(channel, message);
        }
        return ValueTask.FromResult(local);
    }

    /// <summary>
    /// As <see cref="SocketIOAdapter.BroadcastWithAckAsync"/>; unless <see cref="BroadcastOptions.Local"/>,
    /// the other servers get it as a request, and their client counts and their clients' answers come
    /// back through Redis until the timeout (<see cref="BroadcastOptions.Timeout"/>, else
    /// <see cref="RequestsTimeout"/>); later answers are ignored.
    /// </summary>
    public override ValueTask BroadcastWithAckAsync(BroadcastPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs?> ack, CancellationToken cancellationToken = default)
    {
        if (!options.Local)
        {
            var timeout = options.Timeout is { } t && t > TimeSpan.Zero ? t : _options.RequestsTimeout;
            string requestId = NewId();
            _ackRequests[requestId] = new AckRequest(clientCount, ack);
            var message = MsgPack.Build(w =>
            {
                w.MapHeader(5);
                w.String("uid"); w.String(Uid);
                w.String("requestId"); w.String(requestId);
                w.String("type"); w.Int((int)RequestType.Broadcast);
                w.String("packet"); WritePacket(w, packet.Packet);
                w.String("opts"); WriteOptions(w, options, timeout);
            });
            Publish(_requestChannel, message);
            // Nothing tells when every remote client has answered: forget the request after its timeout.
            _ = Task.Delay(timeout, CancellationToken.None).ContinueWith(_ => _ackRequests.TryRemove(requestId, out AckRequest? _), TaskScheduler.Default);
        }
        BroadcastWithAckLocal(packet, options, clientCount, ack, cancellationToken);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The selected sockets of this server and, unless <see cref="BroadcastOptions.Local"/>, of the others,
    /// which must all answer within <see cref="BroadcastOptions.Timeout"/> (else <see cref="RequestsTimeout"/>);
    /// otherwise throws <see cref="TimeoutException"/>. Alone in the cluster, or while Redis is away, only this server's.
    /// </summary>
    public override async ValueTask<IReadOnlyList<FetchedSocket>> FetchSocketsAsync(BroadcastOptions options, CancellationToken cancellationToken = default)
    {
        var local = FetchLocal(options);
        if (options.Local) return local;
        int servers = await ServerCountAsync(cancellationToken).ConfigureAwait(false);
        if (servers <= 1) return local;
        var pending = new PendingRequest(RequestType.RemoteFetch, servers - 1);
        pending.Sockets.AddRange(local);
        try
        {
            await RequestAsync(pending, w => WriteSelection(w, options), options.Timeout ?? _options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("timeout reached while waiting for fetchSockets response");
        }
        lock (pending) return pending.Sockets.ToArray();
    }

    /// <summary>
    /// Asks every other server (the request channel) and waits, bounded, for the answers
    /// <paramref name="pending"/> expects; a timeout is counted and thrown, with what did arrive left in it.
    /// </summary>
    private async Task RequestAsync(PendingRequest pending, Action<Utf8JsonWriter> writeBody, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string requestId = NewId();
        _requests[requestId] = pending;
        try
        {
            Publish(_requestChannel, Json(w =>
            {
                w.WriteString("uid", Uid);
                w.WriteString("requestId", requestId);
                w.WriteNumber("type", (int)pending.Type);
                writeBody(w);
            }));
            await WaitAsync(pending, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            RedisAdapterMetrics.Error("request");
            throw;
        }
        finally
        {
            _requests.TryRemove(requestId, out _);
        }
    }

    private static async Task WaitAsync(PendingRequest pending, TimeSpan timeout, CancellationToken cancellationToken) =>
        await pending.Done.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Makes the selected sockets of this server join <paramref name="rooms"/> and, unless
    /// <see cref="BroadcastOptions.Local"/>, asks the others to; completes without waiting for them.
    /// </summary>
    public override ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        AddSocketsLocal(options, rooms);
        if (!options.Local) PublishSelectionRequest(RequestType.RemoteJoin, options, w => WriteRooms(w, rooms));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Makes the selected sockets of this server leave <paramref name="rooms"/> and, unless
    /// <see cref="BroadcastOptions.Local"/>, asks the others to; completes without waiting for them.
    /// </summary>
    public override ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        DelSocketsLocal(options, rooms);
        if (!options.Local) PublishSelectionRequest(RequestType.RemoteLeave, options, w => WriteRooms(w, rooms));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Disconnects the selected sockets of this server (with <paramref name="close"/>, their whole
    /// connections) and, unless <see cref="BroadcastOptions.Local"/>, asks the others to; completes without waiting for them.
    /// </summary>
    public override ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close, CancellationToken cancellationToken = default)
    {
        DisconnectSocketsLocal(options, close);
        if (!options.Local) PublishSelectionRequest(RequestType.RemoteDisconnect, options, w => w.WriteBoolean("close", close));
        return ValueTask.CompletedTask;
    }

    private static void WriteRooms(Utf8JsonWriter writer, IEnumerable<string> rooms)
    {
        writer.WriteStartArray("rooms");
        foreach (var room in rooms) writer.WriteStringValue(room);
        writer.WriteEndArray();
    }

    private void PublishSelectionRequest(RequestType type, BroadcastOptions options, Action<Utf8JsonWriter> more) =>
        Publish(_requestChannel, Json(w =>
        {
            w.WriteString("uid", Uid);
            w.WriteNumber("type", (int)type);
            WriteSelection(w, options);
            more(w);
        }));

    /// <summary>
    /// Publishes <paramref name="data"/> (<c>[event, ...args]</c>) to the other servers' <c>OnServerSideEmit</c>
    /// handlers; completes without waiting for Redis.
    /// </summary>
    public override ValueTask ServerSideEmitAsync(JsonElement data, CancellationToken cancellationToken = default)
    {
        Publish(_requestChannel, Json(w =>
        {
            w.WriteString("uid", Uid);
            w.WriteNumber("type", (int)RequestType.ServerSideEmit);
            w.WritePropertyName("data");
            data.WriteTo(w);
        }));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// As <see cref="ServerSideEmitAsync"/>, waiting up to <paramref name="timeout"/> for one answer from each
    /// other server (as many as <see cref="ServerCountAsync"/> counts). Returns none at once when this server
    /// is alone; throws <see cref="SocketIOServerSideEmitTimeoutException"/>, with the answers that came, when the timeout passes.
    /// </summary>
    public override async Task<IReadOnlyList<JsonElement>> ServerSideEmitWithAckAsync(JsonElement data, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int others = await ServerCountAsync(cancellationToken).ConfigureAwait(false) - 1;
        if (others <= 0) return [];
        var pending = new PendingRequest(RequestType.ServerSideEmit, others);
        try
        {
            await RequestAsync(pending, w =>
            {
                w.WritePropertyName("data");
                data.WriteTo(w);
            }, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (pending) throw new SocketIOServerSideEmitTimeoutException(others, pending.Responses.ToArray());
        }
        lock (pending) return pending.Responses.ToArray();
    }

    /// <summary>Servers subscribed to this namespace's request channel (<c>PUBSUB NUMSUB</c>); 1 (this one) while Redis is away.</summary>
    public override async ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await _redis.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _requestChannel).WaitAsync(_options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
            var items = (RedisResult[])result!;
            return items.Length >= 2 ? Math.Max(1, (int)items[1]) : 1;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            RedisAdapterMetrics.Error("request");
            Logger.LogWarning("Socket.IO Redis adapter of {Namespace}: server count unavailable, counting this server only: {Reason}", Namespace.Name, ex.Message);
            return 1;
        }
    }

    // ───────────────────────────── receiving ─────────────────────────────

    private static JsonElement Decode(byte[] message, List<byte[]> attachments)
    {
        if (message.Length > 0 && message[0] == (byte)'{')
        {
            using var document = JsonDocument.Parse(message);
            return document.RootElement.Clone();
        }
        return MsgPack.ToJson(message, attachments);
    }

    private static BroadcastOptions ReadSelection(JsonElement opts, BroadcastOptions? defaults = null)
    {
        var options = defaults ?? BroadcastOptions.All;
        if (opts.ValueKind != JsonValueKind.Object) return options;
        return options with { Rooms = ReadRooms(opts, "rooms"), Except = ReadRooms(opts, "except") };
    }

    private static HashSet<string> ReadRooms(JsonElement holder, string name)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (holder.TryGetProperty(name, out var rooms) && rooms.ValueKind == JsonValueKind.Array)
            foreach (var room in rooms.EnumerateArray())
                set.Add(room.ValueKind == JsonValueKind.String ? room.GetString()! : room.GetRawText());
        return set;
    }

    private static BroadcastOptions ReadOptions(JsonElement opts)
    {
        var options = ReadSelection(opts);
        if (opts.ValueKind == JsonValueKind.Object && opts.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Object)
        {
            options = options with
            {
                Volatile = flags.TryGetProperty("volatile", out var v) && v.ValueKind == JsonValueKind.True,
                Compress = !(flags.TryGetProperty("compress", out var c) && c.ValueKind == JsonValueKind.False),
                Timeout = flags.TryGetProperty("timeout", out var t) && t.TryGetDouble(out double ms) && ms > 0 ? TimeSpan.FromMilliseconds(ms) : null,
            };
        }
        return options with { Local = true };
    }

    /// <summary>A packet from another node, checked to be an event of this namespace before any client sees it.</summary>
    private SocketIOPacket? ReadPacket(JsonElement packet, List<byte[]> attachments)
    {
        if (packet.ValueKind != JsonValueKind.Object) throw new FormatException("packet is not an object");
        string nsp = packet.TryGetProperty("nsp", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "/";
        if (nsp != Namespace.Name) return null;
        int type = packet.TryGetProperty("type", out var t) && t.TryGetInt32(out int tv) ? tv : -1;
        if (type is not ((int)SocketIOPacketType.Event or (int)SocketIOPacketType.BinaryEvent)) throw new FormatException($"packet type {type} is not an event");
        if (!packet.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0
            || data[0].ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            throw new FormatException("event data is not [name, ...args]");
        var result = new SocketIOPacket { Type = attachments.Count > 0 ? SocketIOPacketType.BinaryEvent : SocketIOPacketType.Event, Namespace = nsp, Data = data, AttachmentCount = attachments.Count };
        result.Attachments.AddRange(attachments);
        return result;
    }

    private void OnBroadcast(string channel, RedisValue value)
    {
        if (!channel.StartsWith(_channel, StringComparison.Ordinal)) return;
        if (channel.Length > _channel.Length)
        {
            // {key}#{nsp}#{room}#: a server without members in the room has nothing to do.
            var room = channel.Length > _channel.Length + 1 ? channel[_channel.Length..^1] : "";
            if (room.Length > 0 && !HasRoom(room)) return;
        }
        byte[] message = (byte[])value!;
        var attachments = new List<byte[]>();
        var envelope = MsgPack.ToJson(message, attachments);
        if (envelope.ValueKind != JsonValueKind.Array || envelope.GetArrayLength() < 3) throw new FormatException("broadcast is not [uid, packet, opts]");
        if (envelope[0].ValueKind == JsonValueKind.String && envelope[0].GetString() == Uid) return; // ours, delivered already
        var packet = ReadPacket(envelope[1], attachments);
        if (packet is null) return;
        RedisAdapterMetrics.Received.Add(1);
        BroadcastLocal(BroadcastPacket.FromPacket(packet), ReadOptions(envelope[2]));
    }

    private static string? GetString(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

    private void OnRequest(RedisValue value)
    {
        byte[] message = (byte[])value!;
        var attachments = new List<byte[]>();
        var request = Decode(message, attachments);
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("type", out var t) || !t.TryGetInt32(out int type))
            throw new FormatException("request without a type");
        string? uid = GetString(request, "uid");
        string? requestId = GetString(request, "requestId");
        bool ours = uid == Uid;
        switch ((RequestType)type)
        {
            case RequestType.Sockets:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                RespondWithList(uid, requestId, "sockets", Select(ReadRooms(request, "rooms"), new HashSet<string>()).Select(socket => socket.Id));
                return;
            case RequestType.AllRooms:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                RespondWithList(uid, requestId, "rooms", Rooms);
                return;
            case RequestType.RemoteJoin or RequestType.RemoteLeave or RequestType.RemoteDisconnect:
                if (ours) return; // applied here when it was made
                RedisAdapterMetrics.Received.Add(1);
                OnSelectionRequest((RequestType)type, request, uid, requestId);
                return;
            case RequestType.RemoteFetch:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                var found = FetchLocal(ReadSelection(request.TryGetProperty("opts", out var fo) ? fo : default));
                Respond(uid, Json(w =>
                {
                    w.WriteString("requestId", requestId);
                    w.WriteStartArray("sockets");
                    foreach (var socket in found)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", socket.Id);
                        w.WritePropertyName("handshake");
                        socket.Handshake.WriteTo(w);
                        w.WriteStartArray("rooms");
                        foreach (var room in socket.Rooms) w.WriteStringValue(room);
                        w.WriteEndArray();
                        w.WritePropertyName("data");
                        socket.Data.WriteTo(w);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }));
                return;
            case RequestType.ServerSideEmit:
                if (ours) return;
                if (!request.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array) throw new FormatException("server-side emit without data");
                RedisAdapterMetrics.Received.Add(1);
                Func<object?, ValueTask>? ack = requestId is null ? null : answer =>
                {
                    // The reference answers server-side emits on the shared response channel.
                    var value = ToJson(answer);
                    Publish(_responseChannel, Json(w =>
                    {
                        w.WriteNumber("type", (int)RequestType.ServerSideEmit);
                        w.WriteString("requestId", requestId);
                        w.WritePropertyName("data");
                        value.WriteTo(w);
                    }));
                    return ValueTask.CompletedTask;
                };
                DispatchServerSideEmit(data, attachments, ack);
                return;
            case RequestType.Broadcast:
                if (requestId is null || _ackRequests.ContainsKey(requestId) || ours) return;
                var packet = ReadPacket(request.TryGetProperty("packet", out var p) ? p : default, attachments);
                if (packet is null) return;
                RedisAdapterMetrics.Received.Add(1);
                var options = ReadOptions(request.TryGetProperty("opts", out var o) ? o : default);
                var forget = new CancellationTokenSource(options.Timeout ?? _options.RequestsTimeout);
                BroadcastWithAckLocal(BroadcastPacket.FromPacket(packet), options,
                    count => Respond(uid, Json(w =>
                    {
                        w.WriteNumber("type", (int)RequestType.BroadcastClientCount);
                        w.WriteString("requestId", requestId);
                        w.WriteNumber("clientCount", count);
                    })),
                    answer =>
                    {
                        if (answer is null) return; // the client left; the requester's timeout covers it
                        Respond(uid, MsgPack.Build(w =>
                        {
                            w.MapHeader(3);
                            w.String("type"); w.Int((int)RequestType.BroadcastAck);
                            w.String("requestId"); w.String(requestId);
                            w.String("packet");
                            if (answer.Count > 0) w.WriteJson(answer[0], answer.Attachments);
                            else w.Nil();
                        }));
                    }, forget.Token);
                _ = Task.Delay((options.Timeout ?? _options.RequestsTimeout) + TimeSpan.FromSeconds(1)).ContinueWith(_ => forget.Dispose(), TaskScheduler.Default);
                return;
            default:
                throw new FormatException($"unknown request type {type}");
        }
    }

    private void OnSelectionRequest(RequestType type, JsonElement request, string? uid, string? requestId)
    {
        if (request.TryGetProperty("opts", out var opts) && opts.ValueKind == JsonValueKind.Object)
        {
            var selection = ReadSelection(opts);
            switch (type)
            {
                case RequestType.RemoteJoin: AddSocketsLocal(selection, ReadRooms(request, "rooms")); break;
                case RequestType.RemoteLeave: DelSocketsLocal(selection, ReadRooms(request, "rooms")); break;
                default: DisconnectSocketsLocal(selection, request.TryGetProperty("close", out var c) && c.ValueKind == JsonValueKind.True); break;
            }
            return;
        }
        // The older form: one socket by id, answered once done.
        string? sid = GetString(request, "sid");
        if (sid is null || !Namespace.Sockets.TryGetValue(sid, out var socket)) return;
        string? room = GetString(request, "room");
        switch (type)
        {
            case RequestType.RemoteJoin when room is not null: socket.Join(room); break;
            case RequestType.RemoteLeave when room is not null: socket.Leave(room); break;
            case RequestType.RemoteDisconnect: socket.Disconnect(request.TryGetProperty("close", out var c) && c.ValueKind == JsonValueKind.True); break;
        }
        if (requestId is not null) Respond(uid, Json(w => w.WriteString("requestId", requestId)));
    }

    /// <summary>An answer carrying one list of strings under <paramref name="name"/> (socket ids, rooms).</summary>
    private void RespondWithList(string? uid, string requestId, string name, IEnumerable<string> values) =>
        Respond(uid, Json(w =>
        {
            w.WriteString("requestId", requestId);
            w.WriteStartArray(name);
            foreach (var value in values) w.WriteStringValue(value);
            w.WriteEndArray();
        }));

    private void Respond(string? requesterUid, byte[] response) =>
        Publish(_options.PublishOnSpecificResponseChannel && requesterUid is not null ? _responseChannel + requesterUid + "#" : _responseChannel, response);

    private void OnResponse(RedisValue value)
    {
        byte[] message = (byte[])value!;
        var attachments = new List<byte[]>();
        var response = Decode(message, attachments);
        if (response.ValueKind != JsonValueKind.Object) throw new FormatException("response is not an object");
        string? requestId = GetString(response, "requestId");
        if (requestId is null) return;
        if (_ackRequests.TryGetValue(requestId, out var ackRequest))
        {
            int type = response.TryGetProperty("type", out var t) && t.TryGetInt32(out int tv) ? tv : -1;
            RedisAdapterMetrics.Received.Add(1);
            if (type == (int)RequestType.BroadcastClientCount && response.TryGetProperty("clientCount", out var cc) && cc.TryGetInt32(out int count))
                ackRequest.ClientCount(count);
            else if (type == (int)RequestType.BroadcastAck)
            {
                var answer = response.TryGetProperty("packet", out var p) ? p : default;
                ackRequest.Ack(CreateArgs(WrapInArray(answer), attachments));
            }
            return;
        }
        if (!_requests.TryGetValue(requestId, out var pending)) return; // someone else's, or too late
        RedisAdapterMetrics.Received.Add(1);
        lock (pending)
        {
            switch (pending.Type)
            {
                case RequestType.RemoteFetch:
                    if (!response.TryGetProperty("sockets", out var sockets) || sockets.ValueKind != JsonValueKind.Array) return;
                    foreach (var s in sockets.EnumerateArray())
                    {
                        string? id = GetString(s, "id");
                        if (id is null) continue;
                        pending.Sockets.Add(new FetchedSocket(Namespace, id,
                            s.TryGetProperty("handshake", out var h) ? h.Clone() : default,
                            ReadRooms(s, "rooms"),
                            s.TryGetProperty("data", out var d) ? d.Clone() : default));
                    }
                    break;
                case RequestType.ServerSideEmit:
                    pending.Responses.Add(response.TryGetProperty("data", out var data) ? data.Clone() : default);
                    break;
                default:
                    break;
            }
            if (++pending.Received >= pending.Expected) pending.Done.TrySetResult();
        }
    }

    private static JsonElement WrapInArray(JsonElement value)
    {
        var text = value.ValueKind == JsonValueKind.Undefined ? "[]" : "[" + value.GetRawText() + "]";
        using var document = JsonDocument.Parse(Encoding.UTF8.GetBytes(text));
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Unsubscribes from the adapter's channels and cancels the cluster requests still waiting; the Redis
    /// connection stays open, as it belongs to the caller.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        ChannelMessageQueue[] queues;
        lock (_queues) queues = _queues.ToArray();
        foreach (var queue in queues)
        {
            try
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
            {
                Logger.LogDebug("Socket.IO Redis adapter: unsubscribe failed: {Reason}", ex.Message);
            }
        }
        foreach (var pending in _requests.Values) pending.Done.TrySetCanceled();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
