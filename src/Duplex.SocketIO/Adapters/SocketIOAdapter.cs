using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// The rooms of one namespace and the operations that select sockets by room: broadcast, fetch,
/// join/leave, disconnect, server-side emit. This base keeps the rooms of this process and does every
/// operation here; an adapter that joins several servers (Redis) overrides the operations to forward
/// them to the other nodes too, and calls the <c>Local</c> methods for its own part and for what it
/// receives. One instance per namespace, made by the factory given to <see cref="SocketIOServer.UseAdapter"/>
/// (the reference's <c>io.adapter(createAdapter(…))</c>).
/// </summary>
public abstract class SocketIOAdapter : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, HashSet<string>> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _socketRooms = new(StringComparer.Ordinal);

    /// <summary>Makes the adapter of <paramref name="ns"/>; the factory given to <see cref="SocketIOServer.UseAdapter"/> calls it, once per namespace.</summary>
    protected SocketIOAdapter(SocketIONamespace ns) => Namespace = ns;

    /// <summary>The namespace whose rooms and operations this adapter keeps.</summary>
    public SocketIONamespace Namespace { get; }

    /// <summary>The server's logger (category "Duplex.SocketIO"), for the adapter's own messages.</summary>
    protected ILogger Logger => Namespace.Server.Logger;

    /// <summary>The server's JSON options, Duplex's binary converter included: those event arguments are (de)serialized with.</summary>
    protected JsonSerializerOptions JsonOptions => Namespace.Server.JsonOptions;

    /// <summary>Completes when the adapter can reach the other nodes (subscriptions made). Done at once here.</summary>
    public virtual Task Ready => Task.CompletedTask;

    /// <summary>How long a cluster request (fetch, server-side emit with acks) waits when the caller gave no timeout.</summary>
    public virtual TimeSpan RequestsTimeout => TimeSpan.FromSeconds(5);

    // ───────────────────────────── rooms of this process ─────────────────────────────

    /// <summary>Adds socket <paramref name="socketId"/> to <paramref name="rooms"/> in this process (<c>adapter.addAll</c>); <see cref="SocketIOSocket.Join"/> calls it.</summary>
    public virtual void AddAll(string socketId, IEnumerable<string> rooms)
    {
        lock (_gate)
        {
            if (!_socketRooms.TryGetValue(socketId, out var mine)) _socketRooms[socketId] = mine = new HashSet<string>(StringComparer.Ordinal);
            foreach (var room in rooms)
            {
                mine.Add(room);
                if (!_rooms.TryGetValue(room, out var members)) _rooms[room] = members = new HashSet<string>(StringComparer.Ordinal);
                members.Add(socketId);
            }
        }
    }

    /// <summary>Removes socket <paramref name="socketId"/> from <paramref name="room"/> in this process (<c>adapter.del</c>); a room left empty is gone.</summary>
    public virtual void Delete(string socketId, string room)
    {
        lock (_gate)
        {
            if (_socketRooms.TryGetValue(socketId, out var mine)) mine.Remove(room);
            RemoveMemberLocked(room, socketId);
        }
    }

    /// <summary>Removes socket <paramref name="socketId"/> from all its rooms in this process (<c>adapter.delAll</c>), as it disconnects.</summary>
    public virtual void DeleteAll(string socketId)
    {
        lock (_gate)
        {
            if (!_socketRooms.Remove(socketId, out var mine)) return;
            foreach (var room in mine) RemoveMemberLocked(room, socketId);
        }
    }

    private void RemoveMemberLocked(string room, string socketId)
    {
        if (_rooms.TryGetValue(room, out var members) && members.Remove(socketId) && members.Count == 0) _rooms.Remove(room);
    }

    /// <summary>The rooms <paramref name="socketId"/> is in, in this process: a copy, empty for a socket this process does not know.</summary>
    public IReadOnlySet<string> RoomsOf(string socketId)
    {
        lock (_gate) return _socketRooms.TryGetValue(socketId, out var mine) ? new HashSet<string>(mine, StringComparer.Ordinal) : new HashSet<string>();
    }

    /// <summary>The rooms that have members in this process now (socket-id rooms included).</summary>
    public IReadOnlyCollection<string> Rooms
    {
        get
        {
            lock (_gate) return _rooms.Keys.ToArray();
        }
    }

    /// <summary>
    /// How many sockets of this process are in <paramref name="room"/> now; 0 when none (the reference's
    /// <c>adapter.rooms.get(room)?.size</c>). Across servers, count <see cref="BroadcastOperator.FetchSocketsAsync"/>.
    /// </summary>
    public int RoomSize(string room)
    {
        lock (_gate) return _rooms.TryGetValue(room, out var members) ? members.Count : 0;
    }

    /// <summary>True when <paramref name="room"/> has members in this process.</summary>
    public bool HasRoom(string room)
    {
        lock (_gate) return _rooms.ContainsKey(room);
    }

    /// <summary>The sockets of this process in any of <paramref name="rooms"/> (all when empty) and in none of <paramref name="except"/>.</summary>
    public List<SocketIOSocket> Select(IReadOnlySet<string> rooms, IReadOnlySet<string> except)
    {
        lock (_gate)
        {
            // One room (or every socket): its members are distinct already, so they are read in place,
            // and those in an excepted room skipped, with no set built per broadcast.
            if (rooms.Count <= 1)
            {
                IReadOnlyCollection<string>? members = null;
                if (rooms.Count == 0) members = _socketRooms.Keys;
                else
                    foreach (var room in rooms)
                        members = _rooms.TryGetValue(room, out var inRoom) ? inRoom : null;
                if (members is null) return [];
                var selected = new List<SocketIOSocket>(members.Count);
                foreach (var id in members)
                    if (!IsExceptedLocked(id, except) && Namespace.TryGetSocket(id, out var socket)) selected.Add(socket);
                return selected;
            }
        }
        var ids = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var room in rooms)
                if (_rooms.TryGetValue(room, out var members)) ids.UnionWith(members);
            foreach (var room in except)
                if (_rooms.TryGetValue(room, out var members)) ids.ExceptWith(members);
        }
        var sockets = new List<SocketIOSocket>(ids.Count);
        foreach (var id in ids)
            if (Namespace.TryGetSocket(id, out var socket)) sockets.Add(socket);
        return sockets;
    }

    private bool IsExceptedLocked(string socketId, IReadOnlySet<string> except)
    {
        if (except.Count == 0) return false;
        foreach (var room in except)
            if (_rooms.TryGetValue(room, out var members) && members.Contains(socketId)) return true;
        return false;
    }

    /// <summary>The sockets of this process that <paramref name="options"/> selects (its <see cref="BroadcastOptions.Rooms"/> and <see cref="BroadcastOptions.Except"/>).</summary>
    public List<SocketIOSocket> Select(BroadcastOptions options) => Select(options.Rooms, options.Except);

    // ───────────────────────────── operations (cluster-wide when overridden) ─────────────────────────────

    /// <summary>Sends the packet to the selected sockets. Returns how many sockets of this process it was handed to.</summary>
    public virtual ValueTask<int> BroadcastAsync(BroadcastPacket packet, BroadcastOptions options, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(BroadcastLocal(packet, options));

    /// <summary>
    /// Sends the packet with an acknowledgement requested from every selected socket. Each node reports
    /// through <paramref name="clientCount"/> how many sockets it sent it to, once; each answer comes
    /// through <paramref name="ack"/> (null: a recipient of this node disconnected before answering).
    /// Cancelling <paramref name="cancellationToken"/> forgets the answers still awaited.
    /// </summary>
    public virtual ValueTask BroadcastWithAckAsync(BroadcastPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs?> ack, CancellationToken cancellationToken = default)
    {
        BroadcastWithAckLocal(packet, options, clientCount, ack, cancellationToken);
        return ValueTask.CompletedTask;
    }

    /// <summary>The selected sockets of every node: this node's as themselves, others' as descriptions.</summary>
    public virtual ValueTask<IReadOnlyList<FetchedSocket>> FetchSocketsAsync(BroadcastOptions options, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<FetchedSocket>>(FetchLocal(options));

    /// <summary>Makes the selected sockets (of every node) join <paramref name="rooms"/>.</summary>
    public virtual ValueTask AddSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        AddSocketsLocal(options, rooms);
        return ValueTask.CompletedTask;
    }

    /// <summary>Makes the selected sockets (of every node) leave <paramref name="rooms"/>.</summary>
    public virtual ValueTask DelSocketsAsync(BroadcastOptions options, IReadOnlyCollection<string> rooms, CancellationToken cancellationToken = default)
    {
        DelSocketsLocal(options, rooms);
        return ValueTask.CompletedTask;
    }

    /// <summary>Disconnects the selected sockets (of every node); with <paramref name="close"/> their whole connections.</summary>
    public virtual ValueTask DisconnectSocketsAsync(BroadcastOptions options, bool close, CancellationToken cancellationToken = default)
    {
        DisconnectSocketsLocal(options, close);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Sends <paramref name="data"/> (<c>[event, ...args]</c>) to the other servers' <c>OnServerSideEmit</c>
    /// handlers. Without other servers there is nobody to tell.
    /// </summary>
    public virtual ValueTask ServerSideEmitAsync(JsonElement data, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <summary>
    /// As <see cref="ServerSideEmitAsync"/>, gathering one answer from every other server. Throws
    /// <see cref="SocketIOServerSideEmitTimeoutException"/> (with the answers that did come) when
    /// <paramref name="timeout"/> passes first.
    /// </summary>
    public virtual Task<IReadOnlyList<JsonElement>> ServerSideEmitWithAckAsync(JsonElement data, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<JsonElement>>([]);

    /// <summary>Keeps a disconnected socket's state for connection state recovery (no-op unless the adapter supports it).</summary>
    public virtual void PersistSession(SocketSession session)
    {
    }

    /// <summary>The session <paramref name="pid"/> and the packets sent to it after <paramref name="offset"/>; null when it cannot be recovered.</summary>
    public virtual ValueTask<RestoredSession?> RestoreSessionAsync(string pid, string offset) => ValueTask.FromResult<RestoredSession?>(null);

    /// <summary>How many servers share this namespace's broadcasts, this one included.</summary>
    public virtual ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(1);

    /// <summary>
    /// Releases the adapter: a cluster adapter its subscriptions and connections; nothing here. Called by
    /// <see cref="SocketIOServer.CloseAsync"/>, and when <see cref="SocketIOServer.UseAdapter"/> replaces it.
    /// </summary>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    // ───────────────────────────── this node's part ─────────────────────────────

    /// <summary>Hands the same encoded packets to every selected socket of this process (frame once, send many).</summary>
    protected int BroadcastLocal(BroadcastPacket packet, BroadcastOptions options)
    {
        var recipients = Select(options);
        if (recipients.Count == 0) return 0;
        var encoded = packet.EncodedWith(Namespace.Server.Parser);
        int handed = 0;
        var flags = options.SendFlags;
        Outgoing? outgoing = null;
        foreach (var socket in recipients)
        {
            NotifyOutgoing(socket, packet, ref outgoing);
            if (socket.SendPackets(encoded, flags)) handed++;
        }
        return handed;
    }

    private sealed record Outgoing(string? Name, SocketIOArgs? Args);

    // As the reference's adapter does, each recipient's outgoing listeners hear of the packet before it is
    // handed over (a volatile one the transport then drops included); it is decoded once, for the first
    // recipient that listens.
    private void NotifyOutgoing(SocketIOSocket socket, BroadcastPacket packet, ref Outgoing? outgoing)
    {
        if (!socket.HasOutgoingListeners) return;
        if (outgoing is null)
        {
            var decoded = packet.Packet;
            var name = SocketIOArgs.EventName(decoded);
            outgoing = new Outgoing(name, name is null ? null : SocketIOArgs.From(decoded.Data, 1, decoded.Attachments, JsonOptions));
        }
        if (outgoing.Name is { } eventName) socket.NotifyOutgoing(eventName, outgoing.Args!);
    }

    /// <summary>This node's part of <see cref="BroadcastWithAckAsync"/>: numbers the packet with this namespace's next ack id.</summary>
    protected void BroadcastWithAckLocal(BroadcastPacket packet, BroadcastOptions options, Action<int> clientCount, Action<SocketIOArgs?> ack, CancellationToken cancellationToken)
    {
        long id = Namespace.NextAckId();
        var encoded = packet.WithId(id).EncodedWith(Namespace.Server.Parser);
        var waiting = new List<SocketIOSocket>();
        var flags = options.SendFlags;
        Outgoing? outgoing = null;
        foreach (var socket in Select(options))
        {
            NotifyOutgoing(socket, packet, ref outgoing);
            var answer = socket.ExpectAck(id);
            if (!socket.SendPackets(encoded, flags))
            {
                socket.ForgetAck(id);
                continue;
            }
            waiting.Add(socket);
            answer.ContinueWith(t => ack(t.IsCompletedSuccessfully ? t.Result : null), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        clientCount(waiting.Count);
        if (waiting.Count > 0 && cancellationToken.CanBeCanceled)
            cancellationToken.Register(() =>
            {
                foreach (var socket in waiting) socket.ForgetAck(id);
            });
    }

    /// <summary>This node's part of <see cref="FetchSocketsAsync"/>: its selected sockets, described with <see cref="FetchedSocket.Describe"/>.</summary>
    protected List<FetchedSocket> FetchLocal(BroadcastOptions options) => Select(options).Select(FetchedSocket.Describe).ToList();

    /// <summary>This node's part of <see cref="AddSocketsAsync"/>: its selected sockets join <paramref name="rooms"/>.</summary>
    protected void AddSocketsLocal(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        foreach (var socket in Select(options)) socket.Join([.. rooms]);
    }

    /// <summary>This node's part of <see cref="DelSocketsAsync"/>: its selected sockets leave <paramref name="rooms"/>.</summary>
    protected void DelSocketsLocal(BroadcastOptions options, IReadOnlyCollection<string> rooms)
    {
        foreach (var socket in Select(options))
            foreach (var room in rooms) socket.Leave(room);
    }

    /// <summary>This node's part of <see cref="DisconnectSocketsAsync"/>: its selected sockets disconnect, with <paramref name="close"/> their whole connections.</summary>
    protected void DisconnectSocketsLocal(BroadcastOptions options, bool close)
    {
        foreach (var socket in Select(options)) socket.Disconnect(close);
    }

    /// <summary>Runs this namespace's <c>OnServerSideEmit</c> handlers for an event another server sent.</summary>
    protected void DispatchServerSideEmit(JsonElement data, IReadOnlyList<byte[]> attachments, Func<object?, ValueTask>? ack) =>
        Namespace.DispatchServerSideEmit(data, attachments, ack);

    /// <summary>Arguments (a JSON array, binary parts as placeholders into <paramref name="attachments"/>) as handlers read them.</summary>
    protected SocketIOArgs CreateArgs(JsonElement array, IReadOnlyList<byte[]> attachments, int skip = 0) =>
        SocketIOArgs.From(array, skip, attachments, JsonOptions);

    /// <summary>A value as JSON, the way this server serializes event arguments (byte[] as base64).</summary>
    protected JsonElement ToJson(object? value) => SocketIOJson.ToElement(value, JsonOptions);
}

/// <summary>A server-side emit with acknowledgements that not every server answered in time.</summary>
public sealed class SocketIOServerSideEmitTimeoutException(int expected, IReadOnlyList<JsonElement> responses)
    : TimeoutException($"timeout reached: only {responses.Count} responses received out of {expected}")
{
    /// <summary>How many other servers were expected to answer.</summary>
    public int Expected { get; } = expected;

    /// <summary>The answers that did come.</summary>
    public IReadOnlyList<JsonElement> Responses { get; } = responses;
}
