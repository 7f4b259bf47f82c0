using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Duplex.SocketIO.Redis;

/// <summary>
/// Rooms and broadcasts of one namespace across every server on the same Redis, through a Redis stream,
/// speaking the protocol of <c>@socket.io/redis-streams-adapter</c> 0.3.x, so Node and Duplex servers can
/// share one stream:
/// <list type="bullet">
/// <item>broadcasts (without acks), socketsJoin, socketsLeave and disconnectSockets are entries of the stream
/// (XADD with <c>MAXLEN ~ {MaxLength}</c>), which every server reads from the last id it saw: a server that
/// lost Redis for a while reads what was added meanwhile once it is back, and what this server adds while
/// Redis is away is held (bounded) and added when it is back;</item>
/// <item>what is worth nothing later — broadcasts with acks, fetchSockets, server-side emits and every answer —
/// goes through pub/sub (<c>{prefix}#{nsp}#</c>, answers on <c>{prefix}#{nsp}#{uid}#</c>), in MessagePack;</item>
/// <item>the number of servers is <c>PUBSUB NUMSUB {prefix}#{nsp}#</c>, as the reference counts them;</item>
/// <item>with connection state recovery on, each broadcast's offset is its stream id, and a disconnected
/// session is kept in Redis (<c>{SessionKeyPrefix}{pid}</c>, expiring after the recovery window), so a client can
/// come back to any server — Duplex or Node — and get its id, rooms, data and the packets it missed.</item>
/// </list>
/// The bytes are <see cref="RedisStreamsCodec"/>'s; the stream's I/O is <see cref="RedisStream"/>'s, shared by
/// every namespace of the server.
/// </summary>
public sealed class RedisStreamsAdapter : SocketIOAdapter
{
    private sealed class PendingRequest(ClusterMessageType type, int expected)
    {
        public ClusterMessageType Type { get; } = type;
        public int Expected { get; } = expected;
        public int Received;
        public readonly List<FetchedSocket> Sockets = new();
        public readonly List<JsonElement> Responses = new();
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record AckRequest(Action<int> ClientCount, Action<SocketIOArgs?> Ack);

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisStreamsAdapterOptions _options;
    private readonly RedisStream _stream;
    private readonly RedisStreamsCodec _codec;
    private readonly ISubscriber _subscriber;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, PendingRequest> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AckRequest> _ackRequests = new(StringComparer.Ordinal);
    private readonly List<ChannelMessageQueue> _queues = new();
    private readonly Task _ready;
    private volatile bool _disposed;
    private int _publishOutage;

    internal RedisStreamsAdapter(SocketIONamespace ns, IConnectionMultiplexer redis, RedisStream stream, RedisStreamsAdapterOptions options) : base(ns)
    {
        _redis = redis;
        _options = options;
        _stream = stream;
        _subscriber = redis.GetSubscriber();
        Uid = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        _codec = new RedisStreamsCodec(options.ChannelPrefix, ns.Name);
        _log = ns.Server.LoggerFactory?.CreateLogger(RedisAdapter.LogCategory) ?? NullLogger.Instance;
        stream.Register(this);
        _ready = Task.WhenAll(SubscribeAsync(), stream.Started);
    }

    /// <summary>This server's id in the cluster (the reference's <c>uid</c>, 16 hex digits): its own messages carry it.</summary>
    public string Uid { get; }

    /// <summary>
    /// Completes once the adapter's channels are subscribed and the stream's reader knows where to start. While
    /// Redis is unreachable both are retried with backoff, so this waits as long as the outage.
    /// </summary>
    public override Task Ready => _ready;

    /// <summary>How long a cluster request waits when the caller gave no timeout: <see cref="RedisStreamsAdapterOptions.RequestsTimeout"/>.</summary>
    public override TimeSpan RequestsTimeout => _options.RequestsTimeout;

    private ConnectionStateRecoveryOptions? Recovery => Namespace.Server.ConnectionStateRecovery;

    private static string NewRequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private async Task SubscribeAsync()
    {
        var subscribed = new List<ChannelMessageQueue>(2);
        try
        {
            foreach (var channel in new[] { _codec.PublicChannel, _codec.PrivateChannel(Uid) })
            {
                var queue = await SubscribeUntilDoneAsync(RedisChannel.Literal(channel)).ConfigureAwait(false);
                subscribed.Add(queue);
                queue.OnMessage(m => Guard(() => OnMessage(RedisStreamsCodec.DecodeMessage((byte[])m.Message!), null), "pub/sub"));
            }
        }
        finally
        {
            bool disposed;
            lock (_queues)
            {
                disposed = _disposed;
                if (!disposed) _queues.AddRange(subscribed);
            }
            if (disposed) await UnsubscribeAllAsync(subscribed).ConfigureAwait(false);
        }
    }

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
                _log.LogWarning("Socket.IO Redis streams adapter: cannot subscribe to {Channel} yet ({Reason}); retrying", channel, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6)))).ConfigureAwait(false);
            }
        }
    }

    private async Task UnsubscribeAllAsync(IEnumerable<ChannelMessageQueue> queues)
    {
        foreach (var queue in queues)
        {
            try
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
            {
                _log.LogDebug("Socket.IO Redis streams adapter: unsubscribe failed: {Reason}", ex.Message);
            }
        }
    }

    /// <summary>Bad input from Redis is logged and counted (kind "malformed"); it never reaches the reader as an exception.</summary>
    private void Guard(Action handle, string what)
    {
        try
        {
            handle();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException or KeyNotFoundException or ArgumentException or InvalidCastException or OverflowException)
        {
            RedisAdapterMetrics.Error("malformed");
            _log.LogWarning("Socket.IO Redis streams adapter of {Namespace}: ignored a malformed {Kind} message: {Reason}", Namespace.Name, what, ex.Message);
        }
        catch (Exception ex)
        {
            RedisAdapterMetrics.Error("malformed");
            _log.LogError(ex, "Socket.IO Redis streams adapter of {Namespace}: failed to handle a {Kind} message", Namespace.Name, what);
        }
    }

    // ───────────────────────────── publishing ─────────────────────────────

    /// <summary>PUBLISH without waiting; a failure (Redis away) is logged once per outage and counted (kind "publish").</summary>
    private void Publish(string channel, byte[] payload)
    {
        Task<long> sending;
        try
        {
            sending = _subscriber.PublishAsync(RedisChannel.Literal(channel), payload);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
        {
            PublishFailed(ex);
            return;
        }
        sending.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                RedisAdapterMetrics.Published.Add(1);
                if (Volatile.Read(ref _publishOutage) != 0 && Interlocked.Exchange(ref _publishOutage, 0) != 0)
                    _log.LogInformation("Socket.IO Redis streams adapter of {Namespace}: publishing again", Namespace.Name);
            }
            else PublishFailed(t.Exception?.GetBaseException());
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void PublishFailed(Exception? ex)
    {
        RedisAdapterMetrics.Error("publish");
        if (Interlocked.Exchange(ref _publishOutage, 1) == 0)
            _log.LogWarning("Socket.IO Redis streams adapter of {Namespace}: cannot publish to Redis ({Reason}); requests and answers are lost until it is back", Namespace.Name, ex?.Message);
    }

    // ───────────────────────────── operations ─────────────────────────────

    /// <summary>
    /// Sends the packet to the selected sockets of this server and, unless <see cref="BroadcastOptions.Local"/>,
    /// adds it to the stream for the others. With connection state recovery on, an event without an ack id
    /// that is not volatile is delivered here once the stream has given it its id (its offset, appended as its
    /// last argument); while Redis is away it is delivered at once, without an offset, and added when Redis is back.
    /// Returns how many sockets of this server it was handed to; waits only when the entries waiting for Redis are
    /// at their bound (<see cref="RedisStreamsAdapterOptions.MaxBufferedMessages"/>) while Redis is up.
    /// </summary>
    public override ValueTask<int> BroadcastAsync(BroadcastPacket packet, BroadcastOptions options, CancellationToken cancellationToken = default)
    {
        if (options.Local) return ValueTask.FromResult(BroadcastLocal(packet, options));
        var fields = _codec.Entry(Uid, ClusterMessageType.Broadcast, RedisStreamsCodec.BroadcastData(packet.Packet, options));
        if (Recovery is null || !Numbered(packet.Packet, options))
        {
            int local = BroadcastLocal(packet, options);
            var adding = _stream.AddAsync(fields, null);
            return adding.IsCompletedSuccessfully ? ValueTask.FromResult(local) : AfterAsync(adding, Task.FromResult(local));
        }
        var delivered = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        // The writer calls back in stream order (or at once, in call order, while Redis is away), so local
        // sockets see broadcasts in order.
        var queued = _stream.AddAsync(fields, id =>
        {
            try
            {
                delivered.TrySetResult(BroadcastLocal(id is null ? packet : WithOffset(packet.Packet, id), options));
            }
            catch (Exception ex)
            {
                delivered.TrySetException(ex);
            }
        });
        return queued.IsCompletedSuccessfully ? new ValueTask<int>(delivered.Task) : AfterAsync(queued, delivered.Task);
    }

    private static async ValueTask<int> AfterAsync(ValueTask queued, Task<int> result)
    {
        await queued.ConfigureAwait(false);
        return await result.ConfigureAwait(false);
    }

    /// <summary>Whether the reference numbers this packet for recovery: an event without an ack id, not volatile.</summary>
    private static bool Numbered(SocketIOPacket packet, BroadcastOptions options) =>
        packet.Type is SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent && packet.Id is null && !options.Volatile;

    /// <summary>The packet with <paramref name="offset"/> appended to its data (the client hands it back when it reconnects).</summary>
    private static BroadcastPacket WithOffset(SocketIOPacket original, string offset)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var item in original.Data!.Value.EnumerateArray()) item.WriteTo(writer);
            writer.WriteStringValue(offset);
            writer.WriteEndArray();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var numbered = new SocketIOPacket { Type = original.Type, Namespace = original.Namespace, Data = document.RootElement.Clone(), AttachmentCount = original.AttachmentCount };
        numbered.Attachments.AddRange(original.Attachments);
        return BroadcastPacket.FromPacket(numbered);
    }

    /// <summary>
    /// As <see cref="SocketIOAdapter.BroadcastWithAckAsync"/>; unless <see cref="BroadcastOptions.Local"/> the
    /// other servers get it through pub/sub, and their client counts and their clients' answers come back on this
    /// server's own channel until the timeout (<see cref="BroadcastOptions.Timeout"/>, else <see cref="RequestsTimeout"/>).
    /// </summary>
    public override ValueTask BroadcastWithAckAsync(BroadcastPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs?> ack, CancellationToken cancellationToken = default)
    {
        if (!options.Local)
        {
            var timeout = options.Timeout is { } t && t > TimeSpan.Zero ? t : _options.RequestsTimeout;
            string requestId = NewRequestId();
            _ackRequests[requestId] = new AckRequest(clientCount, ack);
            Publish(_codec.PublicChannel, _codec.EncodeBroadcastWithAck(Uid, requestId, packet.Packet, options, timeout));
            _ = Task.Delay(timeout, CancellationToken.None).ContinueWith(_ => _ackRequests.TryRemove(requestId, out AckRequest? _), TaskScheduler.Default);
        }
        BroadcastWithAckLocal(packet, options, clientCount, ack, cancellationToken);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The selected sockets of this server and, unless <see cref="BroadcastOptions.Local"/>, of the others, which
    /// must all answer within <see cref="BroadcastOptions.Timeout"/> (else <see cref="RequestsTimeout"/>);
    /// otherwise throws <see cref="TimeoutException"/>. Alone, or while Redis is away, only this server's.
    /// </summary>
    public override async ValueTask<IReadOnlyList<FetchedSocket>> FetchSocketsAsync(BroadcastOptions options, CancellationToken cancellationToken = default)
    {
        var local = FetchLocal(options);
        if (options.Local) return local;
        int servers = await ServerCountAsync(cancellationToken).ConfigureAwait(false);
        if (servers <= 1) return local;
        var pending = new PendingRequest(ClusterMessageType.FetchSockets, servers - 1);
        pending.Sockets.AddRange(local);
        try
        {
            await RequestAsync(pending, id => _codec.EncodeFetchSockets(Uid, id, options, options.Timeout), options.Timeout ?? _options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (pending) throw new TimeoutException($"timeout reached: only {pending.Received} responses received out of {pending.Expected}");
        }
        lock (pending) return pending.Sockets.ToArray();
    }

    private async Task RequestAsync(PendingRequest pending, Func<string, byte[]> encode, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string requestId = NewRequestId();
        _requests[requestId] = pending;
        try
        {
            Publish(_codec.PublicChannel, encode(requestId));
            await pending.Done.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
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

    /// <summary>The selected sockets of this server join <paramref name="rooms"/>; unless <see cref="BroadcastOptions.Local"/>, a stream entry asks the others to.</summary>
    public override ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        AddSocketsLocal(options, rooms);
        return options.Local ? ValueTask.CompletedTask : _stream.AddAsync(_codec.Entry(Uid, ClusterMessageType.SocketsJoin, RedisStreamsCodec.RoomsData(options, rooms)), null);
    }

    /// <summary>The selected sockets of this server leave <paramref name="rooms"/>; unless <see cref="BroadcastOptions.Local"/>, a stream entry asks the others to.</summary>
    public override ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        DelSocketsLocal(options, rooms);
        return options.Local ? ValueTask.CompletedTask : _stream.AddAsync(_codec.Entry(Uid, ClusterMessageType.SocketsLeave, RedisStreamsCodec.RoomsData(options, rooms)), null);
    }

    /// <summary>Disconnects the selected sockets of this server; unless <see cref="BroadcastOptions.Local"/>, a stream entry asks the others to.</summary>
    public override ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close, CancellationToken cancellationToken = default)
    {
        DisconnectSocketsLocal(options, close);
        return options.Local ? ValueTask.CompletedTask : _stream.AddAsync(_codec.Entry(Uid, ClusterMessageType.DisconnectSockets, RedisStreamsCodec.DisconnectData(options, close)), null);
    }

    /// <summary>Publishes <paramref name="data"/> (<c>[event, ...args]</c>) to the other servers' <c>OnServerSideEmit</c> handlers.</summary>
    public override ValueTask ServerSideEmitAsync(JsonElement data, CancellationToken cancellationToken = default)
    {
        Publish(_codec.PublicChannel, _codec.EncodeServerSideEmit(Uid, null, data, null));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// As <see cref="ServerSideEmitAsync"/>, waiting up to <paramref name="timeout"/> for one answer from each other
    /// server; throws <see cref="SocketIOServerSideEmitTimeoutException"/>, with the answers that came, when it passes.
    /// </summary>
    public override async Task<IReadOnlyList<JsonElement>> ServerSideEmitWithAckAsync(JsonElement data, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int others = await ServerCountAsync(cancellationToken).ConfigureAwait(false) - 1;
        if (others <= 0) return [];
        var pending = new PendingRequest(ClusterMessageType.ServerSideEmit, others);
        try
        {
            await RequestAsync(pending, id => _codec.EncodeServerSideEmit(Uid, id, data, null), timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (pending) throw new SocketIOServerSideEmitTimeoutException(others, pending.Responses.ToArray());
        }
        lock (pending) return pending.Responses.ToArray();
    }

    /// <summary>Servers subscribed to this namespace's public channel (<c>PUBSUB NUMSUB</c>); 1 (this one) while Redis is away.</summary>
    public override async ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await _redis.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _codec.PublicChannel).WaitAsync(_options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
            var items = (RedisResult[])result!;
            return items.Length >= 2 ? Math.Max(1, (int)items[1]) : 1;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            RedisAdapterMetrics.Error("request");
            _log.LogWarning("Socket.IO Redis streams adapter of {Namespace}: server count unavailable, counting this server only: {Reason}", Namespace.Name, ex.Message);
            return 1;
        }
    }

    // ───────────────────────────── connection state recovery ─────────────────────────────

    /// <summary>
    /// Keeps the session in Redis (SET <c>{SessionKeyPrefix}{pid}</c> PX the recovery window), as the reference
    /// does, so any server of the cluster can restore it; a failure is logged and counted (kind "session").
    /// </summary>
    public override void PersistSession(SocketSession session)
    {
        if (Recovery is not { } recovery) return;
        string value = RedisStreamsCodec.EncodeSession(session.Sid, session.Pid, session.Rooms, ToJson(session.Data));
        Task<bool> setting;
        try
        {
            setting = _redis.GetDatabase().StringSetAsync(_options.SessionKeyPrefix + session.Pid, value, recovery.MaxDisconnectionDuration);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or TimeoutException)
        {
            SessionFailed(ex);
            return;
        }
        setting.ContinueWith(t => { if (!t.IsCompletedSuccessfully) SessionFailed(t.Exception?.GetBaseException()); },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void SessionFailed(Exception? ex)
    {
        RedisAdapterMetrics.Error("session");
        _log.LogWarning("Socket.IO Redis streams adapter of {Namespace}: session not stored, its client cannot recover: {Reason}", Namespace.Name, ex?.Message);
    }

    /// <summary>
    /// Takes the session out of Redis (GETDEL: a session is handed out once) and reads the stream after
    /// <paramref name="offset"/> for the packets the client missed: broadcasts of this namespace its rooms select,
    /// each with its id appended. Null when the session expired or the offset is no longer in the stream (trimmed).
    /// The read is bounded: pages of <see cref="RedisStreamsAdapterOptions.ReadCount"/> entries, up to the stream's
    /// last id when the read began, and at most <see cref="RedisStreamsAdapterOptions.MaxLength"/> entries
    /// and 2 pages more (the stream holds no more than about that after its offset).
    /// </summary>
    public override async ValueTask<RestoredSession?> RestoreSessionAsync(string pid, string offset)
    {
        if (Recovery is null) return null;
        var (ms, seq) = RedisStream.ParseId(offset);
        if (ms == 0 && seq == 0) return null; // not a stream id: a client of another adapter, or garbage
        var db = _redis.GetDatabase();
        var rawTask = db.StringGetDeleteAsync(_options.SessionKeyPrefix + pid);
        var here = db.StreamRangeAsync(_options.StreamName, offset, offset);
        var end = db.StreamRangeAsync(_options.StreamName, "-", "+", 1, Order.Descending);
        var raw = await rawTask.ConfigureAwait(false);
        var at = await here.ConfigureAwait(false);
        var last = await end.ConfigureAwait(false);
        if (raw.IsNullOrEmpty || at.Length == 0 || last.Length == 0) return null;
        var stored = RedisStreamsCodec.DecodeSession(raw!);
        string endId = last[0].Id!;
        var missed = new List<BroadcastPacket>();
        int page = Math.Max(1, _options.ReadCount);
        int maxPages = _options.MaxLength / page + 2;
        string from = offset;
        for (int i = 0; i < maxPages && RedisStream.CompareIds(from, endId) < 0; i++)
        {
            var entries = await db.StreamRangeAsync(_options.StreamName, "(" + from, endId, page).ConfigureAwait(false);
            if (entries.Length == 0) break;
            foreach (var entry in entries)
            {
                from = entry.Id!;
                ClusterMessage? message;
                try
                {
                    message = RedisStreamsCodec.DecodeEntry(entry.Values);
                }
                catch (Exception ex) when (ex is FormatException or JsonException)
                {
                    RedisAdapterMetrics.Error("malformed");
                    continue;
                }
                if (message is not { Type: ClusterMessageType.Broadcast } || message.Nsp != Namespace.Name) continue;
                var options = RedisAdapterCodec.ReadOptions(message.Get("opts"));
                if (options.Volatile || !Includes(stored.Rooms, options)) continue;
                SocketIOPacket? packet;
                try
                {
                    packet = RedisAdapterCodec.ReadPacket(message.Get("packet"), message.Attachments, Namespace.Name, Namespace.Name);
                }
                catch (FormatException)
                {
                    RedisAdapterMetrics.Error("malformed");
                    continue;
                }
                if (packet is not null) missed.Add(WithOffset(packet, from));
            }
        }
        var data = new ConcurrentDictionary<string, object?>(StringComparer.Ordinal);
        if (stored.Data.ValueKind == JsonValueKind.Object)
            foreach (var property in stored.Data.EnumerateObject()) data[property.Name] = property.Value.Clone();
        return new RestoredSession(new SocketSession(stored.Sid, stored.Pid, stored.Rooms, data), missed);
    }

    private static bool Includes(IReadOnlyCollection<string> sessionRooms, BroadcastOptions options) =>
        (options.Rooms.Count == 0 || sessionRooms.Any(options.Rooms.Contains)) && !sessionRooms.Any(options.Except.Contains);

    // ───────────────────────────── receiving ─────────────────────────────

    /// <summary>An entry of the stream for this namespace (the reader calls it in stream order).</summary>
    internal void OnStreamMessage(ClusterMessage message, string offset) => Guard(() => OnMessage(message, offset), "stream");

    private void OnMessage(ClusterMessage message, string? offset)
    {
        if (message.Uid == Uid || message.Nsp != Namespace.Name) return;
        switch (message.Type)
        {
            case ClusterMessageType.Broadcast:
                OnBroadcast(message, offset);
                return;
            case ClusterMessageType.SocketsJoin:
                RedisAdapterMetrics.Received.Add(1);
                AddSocketsLocal(RedisAdapterCodec.ReadSelection(message.Get("opts")), RedisAdapterCodec.ReadRooms(message.Data, "rooms"));
                return;
            case ClusterMessageType.SocketsLeave:
                RedisAdapterMetrics.Received.Add(1);
                DelSocketsLocal(RedisAdapterCodec.ReadSelection(message.Get("opts")), RedisAdapterCodec.ReadRooms(message.Data, "rooms"));
                return;
            case ClusterMessageType.DisconnectSockets:
                RedisAdapterMetrics.Received.Add(1);
                DisconnectSocketsLocal(RedisAdapterCodec.ReadSelection(message.Get("opts")), message.Get("close").ValueKind == JsonValueKind.True);
                return;
            case ClusterMessageType.FetchSockets when message.RequestId is { } requestId && message.Uid is { } requester:
                RedisAdapterMetrics.Received.Add(1);
                var found = FetchLocal(RedisAdapterCodec.ReadSelection(message.Get("opts")))
                    .Select(s => new RemoteSocket(s.Id, s.Handshake, s.Rooms, s.Data)).ToArray();
                Respond(requester, _codec.EncodeFetchResponse(Uid, requestId, found));
                return;
            case ClusterMessageType.ServerSideEmit:
                var packet = message.Get("packet");
                if (packet.ValueKind != JsonValueKind.Array) throw new FormatException("server-side emit without a packet array");
                RedisAdapterMetrics.Received.Add(1);
                Func<object?, ValueTask>? ack = message.RequestId is { } sseId && message.Uid is { } from ? answer =>
                {
                    Respond(from, _codec.EncodeAnswer(Uid, ClusterMessageType.ServerSideEmitResponse, sseId, ToJson(answer), null));
                    return ValueTask.CompletedTask;
                } : null;
                DispatchServerSideEmit(packet, message.Attachments, ack);
                return;
            case ClusterMessageType.FetchSocketsResponse or ClusterMessageType.ServerSideEmitResponse
                or ClusterMessageType.BroadcastClientCount or ClusterMessageType.BroadcastAck:
                OnResponse(message);
                return;
            default:
                return; // heartbeats and the like: the reference has none in this adapter
        }
    }

    private void OnBroadcast(ClusterMessage message, string? offset)
    {
        var options = RedisAdapterCodec.ReadOptions(message.Get("opts")) with { Local = true };
        if (RedisAdapterCodec.ReadPacket(message.Get("packet"), message.Attachments, Namespace.Name, Namespace.Name) is not { } packet) return;
        RedisAdapterMetrics.Received.Add(1);
        if (message.RequestId is not { } requestId)
        {
            var broadcast = offset is not null && Recovery is not null && Numbered(packet, options) ? WithOffset(packet, offset) : BroadcastPacket.FromPacket(packet);
            BroadcastLocal(broadcast, options);
            return;
        }
        if (message.Uid is not { } requester) return;
        var timeout = options.Timeout ?? _options.RequestsTimeout;
        var forget = new CancellationTokenSource(timeout);
        BroadcastWithAckLocal(BroadcastPacket.FromPacket(packet), options,
            count => Respond(requester, _codec.EncodeClientCount(Uid, requestId, count)),
            answer =>
            {
                if (answer is null) return; // the client left; the requester's timeout covers it
                Respond(requester, _codec.EncodeAnswer(Uid, ClusterMessageType.BroadcastAck, requestId, answer.Count > 0 ? answer[0] : null, answer.Attachments));
            }, forget.Token);
        _ = Task.Delay(timeout + TimeSpan.FromSeconds(1)).ContinueWith(_ => forget.Dispose(), TaskScheduler.Default);
    }

    private void Respond(string requesterUid, byte[] response) => Publish(_codec.PrivateChannel(requesterUid), response);

    private void OnResponse(ClusterMessage message)
    {
        if (message.RequestId is not { } requestId) return;
        var response = new RedisResponse(message.Data, message.Attachments);
        if (_ackRequests.TryGetValue(requestId, out var ackRequest))
        {
            RedisAdapterMetrics.Received.Add(1);
            if (message.Type == ClusterMessageType.BroadcastClientCount && response.ClientCount is { } count) ackRequest.ClientCount(count);
            else if (message.Type == ClusterMessageType.BroadcastAck) ackRequest.Ack(CreateArgs(response.AckArguments, message.Attachments));
            return;
        }
        if (!_requests.TryGetValue(requestId, out var pending)) return; // someone else's, or too late
        RedisAdapterMetrics.Received.Add(1);
        lock (pending)
        {
            switch (pending.Type)
            {
                case ClusterMessageType.FetchSockets when message.Type == ClusterMessageType.FetchSocketsResponse:
                    if (response.ReadSockets() is not { } sockets) return;
                    foreach (var s in sockets) pending.Sockets.Add(new FetchedSocket(Namespace, s.Id, s.Handshake, s.Rooms, s.Data));
                    break;
                case ClusterMessageType.ServerSideEmit when message.Type == ClusterMessageType.ServerSideEmitResponse:
                    pending.Responses.Add(message.Get("packet").Clone());
                    break;
                default:
                    return;
            }
            if (++pending.Received >= pending.Expected) pending.Done.TrySetResult();
        }
    }

    /// <summary>
    /// Unsubscribes, leaves the stream's reader and writer (the last namespace to leave stops them, once what is
    /// queued is added — waiting at most <see cref="RequestsTimeout"/>, then what is still held is dropped, logged)
    /// and cancels the cluster requests still waiting; the Redis connection stays open,
    /// as it belongs to the caller. A second call does nothing.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        ChannelMessageQueue[] queues;
        lock (_queues)
        {
            if (_disposed) return;
            _disposed = true;
            queues = _queues.ToArray();
            _queues.Clear();
        }
        await UnsubscribeAllAsync(queues).ConfigureAwait(false);
        await _stream.UnregisterAsync(this).ConfigureAwait(false);
        foreach (var pending in _requests.Values) pending.Done.TrySetCanceled();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
