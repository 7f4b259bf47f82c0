using System.Collections.Concurrent;
using System.Text.Json;
using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO;

/// <summary>
/// A namespace: its middleware, connection handlers, sockets and rooms. A namespace made for a
/// dynamic pattern runs its parent's middleware and handlers, then its own.
/// </summary>
public sealed class SocketIONamespace
{
    // A dynamic namespace's child runs its pattern's middleware and handlers (those added to the pattern
    // later too), then its own: what is added to one child reaches no other.
    private readonly SocketIONamespace? _parent;
    private readonly List<Func<SocketIOSocket, ValueTask>> _middleware = new();
    private readonly List<Func<SocketIOSocket, ValueTask>> _connectionHandlers = new();
    private readonly ConcurrentDictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<SocketIOServerEvent, ValueTask>[]> _serverEventHandlers = new(StringComparer.Ordinal);
    private SocketIOAdapter _adapter;
    private long _nextAckId = -1;

    internal SocketIONamespace(SocketIOServer server, string name, SocketIONamespace? parent = null, bool isTemplate = false)
    {
        Server = server;
        Name = name;
        // A dynamic pattern's template never has sockets of its own, so it never needs the cluster.
        _adapter = isTemplate ? new InMemoryAdapter(this) : server.CreateAdapter(this);
        _parent = parent;
    }

    /// <summary>The dynamic pattern's namespace this one was made for (null for a namespace made by name).</summary>
    internal SocketIONamespace? Parent => _parent;

    /// <summary>A dynamic pattern's child on a server with <see cref="SocketIOOptions.CleanupEmptyChildNamespaces"/>.</summary>
    internal bool IsRemovable => _parent is not null && Server.Options.CleanupEmptyChildNamespaces;

    /// <summary>Connections on their way in (looked up, not yet admitted or refused); guarded by the server's namespaces lock.</summary>
    internal int PendingConnects;

    private bool _removed; // guarded by the server's namespaces lock

    /// <summary>Ends the hold <see cref="SocketIOServer.Lookup"/> took for one connection; an empty removable child then goes.</summary>
    internal void ReleaseConnect()
    {
        if (!IsRemovable) return;
        lock (Server.NamespacesGate)
        {
            PendingConnects--;
            RemoveIfEmptyLocked();
        }
    }

    // As the reference's cleanup: once a child has no sockets (and here, no connection on its way in,
    // which the reference does not count), the server forgets it and its adapter is closed.
    private void RemoveIfEmptyLocked()
    {
        if (_removed || PendingConnects > 0 || !_sockets.IsEmpty) return;
        _removed = true;
        Server.RemoveNamespaceLocked(this);
        var adapter = Adapter;
        _ = Task.Run(async () =>
        {
            try
            {
                await adapter.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Server.Logger.LogWarning(ex, "Socket.IO adapter of {Namespace}: dispose failed", Name);
            }
        });
    }

    /// <summary>The namespace's name, such as "/" or "/admin" (<c>nsp.name</c>); "(dynamic)" for the parent a dynamic pattern returns.</summary>
    public string Name { get; }

    /// <summary>The server the namespace belongs to (<c>nsp.server</c>).</summary>
    public SocketIOServer Server { get; }

    /// <summary>This namespace's rooms and the operations across servers (see <see cref="SocketIOServer.UseAdapter"/>).</summary>
    public SocketIOAdapter Adapter => System.Threading.Volatile.Read(ref _adapter);

    /// <summary>Replaces the adapter (before sockets connect: rooms are not carried over), disposing the old one.</summary>
    internal void ReplaceAdapter(SocketIOAdapter adapter)
    {
        var old = Interlocked.Exchange(ref _adapter, adapter);
        _ = old.DisposeAsync().AsTask().ContinueWith(t => Server.Logger.LogWarning(t.Exception, "Socket.IO adapter of {Namespace}: dispose failed", Name),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>The sockets connected to this namespace (in this process), by id.</summary>
    public IReadOnlyDictionary<string, SocketIOSocket> Sockets => _sockets;

    internal bool TryGetSocket(string id, out SocketIOSocket socket) => _sockets.TryGetValue(id, out socket!);

    internal long NextAckId() => Interlocked.Increment(ref _nextAckId);

    /// <summary>
    /// Adds a middleware, run in order for each connection before it is accepted. Throw
    /// <see cref="SocketIOConnectRefusedException"/> to refuse it: the client gets <c>connect_error</c>
    /// with that message and data. Any other exception refuses it with "Internal server error" (and is logged).
    /// </summary>
    public SocketIONamespace Use(Func<SocketIOSocket, ValueTask> middleware)
    {
        lock (_middleware) _middleware.Add(middleware);
        return this;
    }

    /// <inheritdoc cref="Use(Func{SocketIOSocket, ValueTask})"/>
    public SocketIONamespace Use(Action<SocketIOSocket> middleware) => Use(s => { middleware(s); return ValueTask.CompletedTask; });

    /// <summary>Called for each socket once it is connected (after the client got its CONNECT answer).</summary>
    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler)
    {
        lock (_connectionHandlers) _connectionHandlers.Add(handler);
        return this;
    }

    /// <inheritdoc cref="OnConnection(Func{SocketIOSocket, ValueTask})"/>
    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler) => OnConnection(s => { handler(s); return ValueTask.CompletedTask; });

    internal Func<SocketIOSocket, ValueTask>[] Middleware
    {
        get
        {
            Func<SocketIOSocket, ValueTask>[] own;
            lock (_middleware) own = _middleware.ToArray();
            return _parent is null ? own : [.. _parent.Middleware, .. own];
        }
    }

    internal Func<SocketIOSocket, ValueTask>[] ConnectionHandlers
    {
        get
        {
            Func<SocketIOSocket, ValueTask>[] own;
            lock (_connectionHandlers) own = _connectionHandlers.ToArray();
            return _parent is null ? own : [.. _parent.ConnectionHandlers, .. own];
        }
    }

    internal void Add(SocketIOSocket socket)
    {
        _sockets[socket.Id] = socket;
        Adapter.AddAll(socket.Id, [socket.Id]);
    }

    internal void Remove(SocketIOSocket socket)
    {
        if (!_sockets.TryRemove(new KeyValuePair<string, SocketIOSocket>(socket.Id, socket)) || !IsRemovable) return;
        lock (Server.NamespacesGate) RemoveIfEmptyLocked();
    }

    /// <summary>
    /// Handles <paramref name="eventName"/> when another server of the cluster sends it with
    /// <see cref="ServerSideEmitAsync"/> (the reference's <c>io.on(event, …)</c> for server-side emits).
    /// </summary>
    public SocketIONamespace OnServerSideEmit(string eventName, Func<SocketIOServerEvent, ValueTask> handler)
    {
        _serverEventHandlers.AddOrUpdate(eventName, [handler], (_, existing) => [.. existing, handler]);
        return this;
    }

    /// <inheritdoc cref="OnServerSideEmit(string, Func{SocketIOServerEvent, ValueTask})"/>
    public SocketIONamespace OnServerSideEmit(string eventName, Action<SocketIOServerEvent> handler) =>
        OnServerSideEmit(eventName, e => { handler(e); return ValueTask.CompletedTask; });

    internal void DispatchServerSideEmit(JsonElement data, IReadOnlyList<byte[]> attachments, Func<object?, ValueTask>? ack)
    {
        if (data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0 || data[0].ValueKind != JsonValueKind.String) return;
        var name = data[0].GetString()!;
        if (!_serverEventHandlers.TryGetValue(name, out var handlers)) return;
        var e = new SocketIOServerEvent(name, SocketIOArgs.From(data, 1, attachments, Server.JsonOptions), ack);
        foreach (var handler in handlers) _ = RunServerEventHandlerAsync(handler, e);
    }

    private async Task RunServerEventHandlerAsync(Func<SocketIOServerEvent, ValueTask> handler, SocketIOServerEvent e)
    {
        try
        {
            await handler(e).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Server.Logger.LogError(ex, "Socket.IO server-side event {Event} in {Namespace}: handler failed", e.Name, Name);
        }
    }

    // Broadcasts from the namespace: every socket, or those the operator selects.
    /// <summary>Targets this namespace's sockets in <paramref name="rooms"/>, on every server (<c>nsp.to(room)</c>).</summary>
    public BroadcastOperator To(params string[] rooms) => new BroadcastOperator(this).To(rooms);
    /// <inheritdoc cref="To"/>
    public BroadcastOperator In(params string[] rooms) => To(rooms);
    /// <summary>Targets this namespace's sockets except those in <paramref name="rooms"/> (<c>nsp.except(room)</c>).</summary>
    public BroadcastOperator Except(params string[] rooms) => new BroadcastOperator(this).Except(rooms);
    /// <summary>This namespace's sockets, skipping those that cannot take a packet right away (<c>nsp.volatile</c>).</summary>
    public BroadcastOperator Volatile => new BroadcastOperator(this).Volatile;
    /// <summary>
    /// This namespace's sockets, with <paramref name="timeout"/> for the acknowledgements of
    /// <see cref="BroadcastOperator.EmitWithAckAsync"/> and <see cref="BroadcastOperator.ServerSideEmitWithAckAsync"/> (<c>nsp.timeout(ms)</c>).
    /// </summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => new BroadcastOperator(this).Timeout(timeout);
    /// <summary>
    /// Emits to every socket of this namespace, on every server (<c>nsp.emit(…)</c>). Returns how many
    /// sockets of this server it was handed to; a reserved name ("connect", "disconnect" …) throws
    /// <see cref="ArgumentException"/>.
    /// </summary>
    public ValueTask<int> EmitAsync(string eventName, params object?[] args) => new BroadcastOperator(this).EmitAsync(eventName, args);
    /// <summary>
    /// Emits to every socket of this namespace and returns their acknowledgements once all have come
    /// (<c>nsp.emitWithAck(…)</c>); see <see cref="BroadcastOperator.EmitWithAckAsync"/> for the deadline.
    /// </summary>
    public Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args) => new BroadcastOperator(this).EmitWithAckAsync(eventName, args);
    /// <summary>This namespace's sockets on every server (<c>nsp.fetchSockets()</c>); see <see cref="BroadcastOperator.FetchSocketsAsync"/>.</summary>
    public ValueTask<IReadOnlyList<FetchedSocket>> FetchSocketsAsync(CancellationToken cancellationToken = default) => new BroadcastOperator(this).FetchSocketsAsync(cancellationToken);
    /// <summary>Makes every socket of this namespace join <paramref name="rooms"/>, without waiting (<c>nsp.socketsJoin(…)</c>).</summary>
    public void SocketsJoin(params string[] rooms) => new BroadcastOperator(this).SocketsJoin(rooms);
    /// <summary>Makes every socket of this namespace leave <paramref name="room"/>, without waiting (<c>nsp.socketsLeave(…)</c>).</summary>
    public void SocketsLeave(string room) => new BroadcastOperator(this).SocketsLeave(room);
    /// <summary>
    /// Disconnects every socket of this namespace, without waiting (<c>nsp.disconnectSockets(close)</c>);
    /// with <paramref name="close"/>, their whole connections.
    /// </summary>
    public void DisconnectSockets(bool close = false) => new BroadcastOperator(this).DisconnectSockets(close);
    /// <summary>As <see cref="SocketsJoin"/>, completing once it is done on every server.</summary>
    public ValueTask SocketsJoinAsync(params string[] rooms) => new BroadcastOperator(this).SocketsJoinAsync(rooms);
    /// <summary>Makes every socket of this namespace leave <paramref name="rooms"/>, completing once it is done on every server.</summary>
    public ValueTask SocketsLeaveAsync(params string[] rooms) => new BroadcastOperator(this).SocketsLeaveAsync(rooms);
    /// <summary>As <see cref="DisconnectSockets"/>, completing once it is done on every server.</summary>
    public ValueTask DisconnectSocketsAsync(bool close = false) => new BroadcastOperator(this).DisconnectSocketsAsync(close);
    /// <summary>This namespace's sockets of this server only: nothing goes to other servers (<c>nsp.local</c>).</summary>
    public BroadcastOperator Local => new BroadcastOperator(this).Local;

    /// <summary>Sends an event to the other servers of the cluster (their <see cref="OnServerSideEmit(string, Func{SocketIOServerEvent, ValueTask})"/> handlers).</summary>
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) => new BroadcastOperator(this).ServerSideEmitAsync(eventName, args);

    /// <summary>As <see cref="ServerSideEmitAsync"/>, and returns one answer from every other server (see <see cref="Timeout"/>).</summary>
    public Task<IReadOnlyList<JsonElement>> ServerSideEmitWithAckAsync(string eventName, params object?[] args) => new BroadcastOperator(this).ServerSideEmitWithAckAsync(eventName, args);

    /// <summary>How many servers share this namespace, this one included.</summary>
    public ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default) => Adapter.ServerCountAsync(cancellationToken);
}
