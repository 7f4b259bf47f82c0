using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
/// The bytes themselves are <see cref="RedisAdapterCodec"/>'s; this type does the I/O: subscriptions,
/// publishing, request bookkeeping and timeouts.
/// Redis being away never takes the server down: its own clients are served, publishes are dropped,
/// logged and counted, cluster requests answer with this server's part, and StackExchange.Redis
/// reconnects and resubscribes by itself. What was published meanwhile is lost (pub/sub keeps nothing).
/// </summary>
public sealed class RedisAdapter : SocketIOAdapter
{
    private sealed class PendingRequest(RedisRequestType type, int expected)
    {
        public RedisRequestType Type { get; } = type;
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
    private readonly RedisAdapterCodec _codec;
    private readonly string _specificResponseChannel;
    private readonly ConcurrentDictionary<string, PendingRequest> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AckRequest> _ackRequests = new(StringComparer.Ordinal);
    private readonly List<ChannelMessageQueue> _queues = new();
    private readonly Task _ready;
    // The adapter logs under its own category, not the namespace's ("Duplex.SocketIO").
    private readonly ILogger _log;
    // A Redis outage fails every publish: it is logged once when the first fails and once when one
    // succeeds again, with the count in between; each lost publish is counted (errors, kind "publish").
    private int _publishOutage;
    private long _lostPublishes;

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
        _codec = new RedisAdapterCodec(_options.Key, ns.Name);
        _log = ns.Server.LoggerFactory?.CreateLogger(LogCategory) ?? NullLogger.Instance;
        _specificResponseChannel = _codec.SpecificResponseChannel(Uid);
        _ready = SubscribeAsync();
    }

    /// <summary>The log category of the adapter's messages (outages, malformed messages, retries).</summary>
    internal const string LogCategory = "Duplex.SocketIO.Redis";

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
        var subscribed = new List<ChannelMessageQueue>(4);
        try
        {
            // Queues keep each channel's messages in order (a client sees broadcasts in the order they were sent).
            var broadcasts = await SubscribeUntilDoneAsync(RedisChannel.Pattern(_codec.BroadcastPattern)).ConfigureAwait(false);
            subscribed.Add(broadcasts);
            broadcasts.OnMessage(m => Guard(() => OnBroadcast(m.Channel.ToString(), m.Message), "broadcast"));
            var requests = await SubscribeUntilDoneAsync(RedisChannel.Literal(_codec.RequestChannel)).ConfigureAwait(false);
            subscribed.Add(requests);
            requests.OnMessage(m => Guard(() => OnRequest(m.Message), "request"));
            var responses = await SubscribeUntilDoneAsync(RedisChannel.Literal(_codec.ResponseChannel)).ConfigureAwait(false);
            subscribed.Add(responses);
            responses.OnMessage(m => Guard(() => OnResponse(m.Message), "response"));
            var specific = await SubscribeUntilDoneAsync(RedisChannel.Literal(_specificResponseChannel)).ConfigureAwait(false);
            subscribed.Add(specific);
            specific.OnMessage(m => Guard(() => OnResponse(m.Message), "response"));
        }
        finally
        {
            // Disposed while subscribing (a namespace removed right after it was made): what was
            // subscribed is released here, since DisposeAsync could not see it.
            bool disposed;
            lock (_queues)
            {
                disposed = _disposed;
                if (!disposed) _queues.AddRange(subscribed);
            }
            if (disposed) await UnsubscribeAllAsync(subscribed).ConfigureAwait(false);
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
                _log.LogDebug("Socket.IO Redis adapter: unsubscribe failed: {Reason}", ex.Message);
            }
        }
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
                _log.LogWarning("Socket.IO Redis adapter: cannot subscribe to {Channel} yet ({Reason}); retrying", channel, ex.Message);
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
            _log.LogWarning("Socket.IO Redis adapter of {Namespace}: ignored a malformed {Kind} message: {Reason}", Namespace.Name, what, ex.Message);
        }
        catch (Exception ex)
        {
            RedisAdapterMetrics.Error("malformed");
            _log.LogError(ex, "Socket.IO Redis adapter of {Namespace}: failed to handle a {Kind} message", Namespace.Name, what);
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
            if (t.IsCompletedSuccessfully) Published();
            else PublishFailed(channel, t.Exception?.GetBaseException());
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Published()
    {
        RedisAdapterMetrics.Published.Add(1);
        if (Volatile.Read(ref _publishOutage) == 0 || Interlocked.Exchange(ref _publishOutage, 0) == 0) return;
        _log.LogInformation("Socket.IO Redis adapter of {Namespace}: publishing again; {Lost} messages were not published meanwhile",
            Namespace.Name, Interlocked.Exchange(ref _lostPublishes, 0));
    }

    private void PublishFailed(string channel, Exception? ex)
    {
        RedisAdapterMetrics.Error("publish");
        Interlocked.Increment(ref _lostPublishes);
        if (Interlocked.Exchange(ref _publishOutage, 1) == 0)
            _log.LogWarning("Socket.IO Redis adapter of {Namespace}: cannot publish to Redis ({Reason}); other servers miss this server's broadcasts until it is back (first lost: {Channel}; each counted in duplex.socketio.redis.errors, kind publish)",
                Namespace.Name, ex?.Message, channel);
        else
            _log.LogDebug("Socket.IO Redis adapter: not published to {Channel}: {Reason}", channel, ex?.Message);
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
            Publish(_codec.BroadcastChannelFor(options), _codec.EncodeBroadcast(Uid, packet.Packet, options));
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
            Publish(_codec.RequestChannel, _codec.EncodeBroadcastRequest(Uid, requestId, packet.Packet, options, timeout));
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
        var pending = new PendingRequest(RedisRequestType.RemoteFetch, servers - 1);
        pending.Sockets.AddRange(local);
        try
        {
            await RequestAsync(pending, requestId => _codec.EncodeFetchRequest(Uid, requestId, options), options.Timeout ?? _options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
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
    private async Task RequestAsync(PendingRequest pending, Func<string, byte[]> encode, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string requestId = NewId();
        _requests[requestId] = pending;
        try
        {
            Publish(_codec.RequestChannel, encode(requestId));
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
        if (!options.Local) Publish(_codec.RequestChannel, _codec.EncodeJoinRequest(Uid, options, rooms));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Makes the selected sockets of this server leave <paramref name="rooms"/> and, unless
    /// <see cref="BroadcastOptions.Local"/>, asks the others to; completes without waiting for them.
    /// </summary>
    public override ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        DelSocketsLocal(options, rooms);
        if (!options.Local) Publish(_codec.RequestChannel, _codec.EncodeLeaveRequest(Uid, options, rooms));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Disconnects the selected sockets of this server (with <paramref name="close"/>, their whole
    /// connections) and, unless <see cref="BroadcastOptions.Local"/>, asks the others to; completes without waiting for them.
    /// </summary>
    public override ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close, CancellationToken cancellationToken = default)
    {
        DisconnectSocketsLocal(options, close);
        if (!options.Local) Publish(_codec.RequestChannel, _codec.EncodeDisconnectRequest(Uid, options, close));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Publishes <paramref name="data"/> (<c>[event, ...args]</c>) to the other servers' <c>OnServerSideEmit</c>
    /// handlers; completes without waiting for Redis.
    /// </summary>
    public override ValueTask ServerSideEmitAsync(JsonElement data, CancellationToken cancellationToken = default)
    {
        Publish(_codec.RequestChannel, _codec.EncodeServerSideEmit(Uid, null, data));
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
        var pending = new PendingRequest(RedisRequestType.ServerSideEmit, others);
        try
        {
            await RequestAsync(pending, requestId => _codec.EncodeServerSideEmit(Uid, requestId, data), timeout, cancellationToken).ConfigureAwait(false);
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
            var result = await _redis.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", _codec.RequestChannel).WaitAsync(_options.RequestsTimeout, cancellationToken).ConfigureAwait(false);
            var items = (RedisResult[])result!;
            return items.Length >= 2 ? Math.Max(1, (int)items[1]) : 1;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            RedisAdapterMetrics.Error("request");
            _log.LogWarning("Socket.IO Redis adapter of {Namespace}: server count unavailable, counting this server only: {Reason}", Namespace.Name, ex.Message);
            return 1;
        }
    }

    // ───────────────────────────── receiving ─────────────────────────────

    private void OnBroadcast(string channel, RedisValue value)
    {
        if (!_codec.TryGetBroadcastRoom(channel, out string room)) return;
        // {key}#{nsp}#{room}#: a server without members in the room has nothing to do.
        if (room.Length > 0 && !HasRoom(room)) return;
        var broadcast = _codec.DecodeBroadcast((byte[])value!);
        if (broadcast.Uid == Uid) return; // ours, delivered already
        if (broadcast.Packet is not { } packet) return;
        RedisAdapterMetrics.Received.Add(1);
        BroadcastLocal(BroadcastPacket.FromPacket(packet), broadcast.Options with { Local = true });
    }

    private void OnRequest(RedisValue value)
    {
        var request = _codec.DecodeRequest((byte[])value!);
        string? uid = request.Uid;
        string? requestId = request.RequestId;
        bool ours = uid == Uid;
        switch (request)
        {
            case SocketsRequest sockets:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                Respond(uid, _codec.EncodeListResponse(requestId, "sockets", Select(sockets.Rooms, new HashSet<string>()).Select(socket => socket.Id)));
                return;
            case AllRoomsRequest:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                Respond(uid, _codec.EncodeListResponse(requestId, "rooms", Rooms));
                return;
            case SelectionRequest selection:
                if (ours) return; // applied here when it was made
                RedisAdapterMetrics.Received.Add(1);
                OnSelectionRequest(selection);
                return;
            case FetchRequest fetch:
                if (ours || requestId is null) return;
                RedisAdapterMetrics.Received.Add(1);
                var found = FetchLocal(fetch.Selection).Select(s => new RemoteSocket(s.Id, s.Handshake, s.Rooms, s.Data));
                Respond(uid, _codec.EncodeFetchResponse(requestId, found));
                return;
            case ServerSideEmitRequest emit:
                if (ours) return;
                RedisAdapterMetrics.Received.Add(1);
                Func<object?, ValueTask>? ack = requestId is null ? null : answer =>
                {
                    // The reference answers server-side emits on the shared response channel.
                    Publish(_codec.ResponseChannel, _codec.EncodeServerSideEmitResponse(requestId, ToJson(answer)));
                    return ValueTask.CompletedTask;
                };
                DispatchServerSideEmit(emit.Data, emit.Attachments, ack);
                return;
            case BroadcastRequest broadcast:
                if (requestId is null || _ackRequests.ContainsKey(requestId) || ours) return;
                if (broadcast.Packet is not { } packet) return;
                RedisAdapterMetrics.Received.Add(1);
                var options = broadcast.Options with { Local = true };
                var forget = new CancellationTokenSource(options.Timeout ?? _options.RequestsTimeout);
                BroadcastWithAckLocal(BroadcastPacket.FromPacket(packet), options,
                    count => Respond(uid, _codec.EncodeClientCountResponse(requestId, count)),
                    answer =>
                    {
                        if (answer is null) return; // the client left; the requester's timeout covers it
                        Respond(uid, _codec.EncodeBroadcastAckResponse(requestId, answer.Count > 0 ? answer[0] : null, answer.Attachments));
                    }, forget.Token);
                _ = Task.Delay((options.Timeout ?? _options.RequestsTimeout) + TimeSpan.FromSeconds(1)).ContinueWith(_ => forget.Dispose(), TaskScheduler.Default);
                return;
        }
    }

    private void OnSelectionRequest(SelectionRequest request)
    {
        if (request.Selection is { } selection)
        {
            switch (request.Type)
            {
                case RedisRequestType.RemoteJoin: AddSocketsLocal(selection, request.Rooms); break;
                case RedisRequestType.RemoteLeave: DelSocketsLocal(selection, request.Rooms); break;
                default: DisconnectSocketsLocal(selection, request.Close); break;
            }
            return;
        }
        // The older form: one socket by id, answered once done.
        if (request.Sid is null || !Namespace.Sockets.TryGetValue(request.Sid, out var socket)) return;
        switch (request.Type)
        {
            case RedisRequestType.RemoteJoin when request.Room is not null: socket.Join(request.Room); break;
            case RedisRequestType.RemoteLeave when request.Room is not null: socket.Leave(request.Room); break;
            case RedisRequestType.RemoteDisconnect: socket.Disconnect(request.Close); break;
        }
        if (request.RequestId is not null) Respond(request.Uid, _codec.EncodeDoneResponse(request.RequestId));
    }

    private void Respond(string? requesterUid, byte[] response) =>
        Publish(_options.PublishOnSpecificResponseChannel && requesterUid is not null ? _codec.SpecificResponseChannel(requesterUid) : _codec.ResponseChannel, response);

    private void OnResponse(RedisValue value)
    {
        var response = _codec.DecodeResponse((byte[])value!);
        if (response.RequestId is not { } requestId) return;
        if (_ackRequests.TryGetValue(requestId, out var ackRequest))
        {
            RedisAdapterMetrics.Received.Add(1);
            if (response.Type == RedisRequestType.BroadcastClientCount && response.ClientCount is { } count)
                ackRequest.ClientCount(count);
            else if (response.Type == RedisRequestType.BroadcastAck)
                ackRequest.Ack(CreateArgs(response.AckArguments, response.Attachments));
            return;
        }
        if (!_requests.TryGetValue(requestId, out var pending)) return; // someone else's, or too late
        RedisAdapterMetrics.Received.Add(1);
        lock (pending)
        {
            switch (pending.Type)
            {
                case RedisRequestType.RemoteFetch:
                    if (response.ReadSockets() is not { } sockets) return;
                    foreach (var s in sockets) pending.Sockets.Add(new FetchedSocket(Namespace, s.Id, s.Handshake, s.Rooms, s.Data));
                    break;
                case RedisRequestType.ServerSideEmit:
                    pending.Responses.Add(response.Data);
                    break;
                default:
                    break;
            }
            if (++pending.Received >= pending.Expected) pending.Done.TrySetResult();
        }
    }

    /// <summary>
    /// Unsubscribes from the adapter's channels (also those a subscription still under way makes) and
    /// cancels the cluster requests still waiting; the Redis connection stays open, as it belongs to the
    /// caller. Called when the server closes, when <see cref="SocketIOServer.UseAdapter"/> replaces it, and
    /// when its namespace is removed (<see cref="SocketIOOptions.CleanupEmptyChildNamespaces"/>).
    /// A second call does nothing.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        ChannelMessageQueue[] queues;
        lock (_queues)
        {
            _disposed = true;
            queues = _queues.ToArray();
            _queues.Clear();
        }
        await UnsubscribeAllAsync(queues).ConfigureAwait(false);
        foreach (var pending in _requests.Values) pending.Done.TrySetCanceled();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
