using System.Collections.Concurrent;
using Duplex.SocketIO.Adapters;

namespace Duplex.SocketIO;

/// <summary>
/// A namespace: its middleware, connection handlers, sockets and rooms. A namespace made for a
/// dynamic pattern shares its parent's middleware and handlers.
/// </summary>
public sealed class SocketIONamespace
{
    private readonly List<Func<SocketIOSocket, ValueTask>> _middleware;
    private readonly List<Func<SocketIOSocket, ValueTask>> _connectionHandlers;
    private readonly ConcurrentDictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private long _nextAckId = -1;

    internal SocketIONamespace(SocketIOServer server, string name, SocketIONamespace? parent = null)
    {
        Server = server;
        Name = name;
        Adapter = new InMemoryAdapter(this);
        _middleware = parent?._middleware ?? new();
        _connectionHandlers = parent?._connectionHandlers ?? new();
    }

    public string Name { get; }

    public SocketIOServer Server { get; }

    public InMemoryAdapter Adapter { get; }

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

    public SocketIONamespace Use(Action<SocketIOSocket> middleware) => Use(s => { middleware(s); return ValueTask.CompletedTask; });

    /// <summary>Called for each socket once it is connected (after the client got its CONNECT answer).</summary>
    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler)
    {
        lock (_connectionHandlers) _connectionHandlers.Add(handler);
        return this;
    }

    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler) => OnConnection(s => { handler(s); return ValueTask.CompletedTask; });

    internal Func<SocketIOSocket, ValueTask>[] Middleware
    {
        get
        {
            lock (_middleware) return _middleware.ToArray();
        }
    }

    internal Func<SocketIOSocket, ValueTask>[] ConnectionHandlers
    {
        get
        {
            lock (_connectionHandlers) return _connectionHandlers.ToArray();
        }
    }

    internal void Add(SocketIOSocket socket)
    {
        _sockets[socket.Id] = socket;
        Adapter.AddAll(socket.Id, [socket.Id]);
    }

    internal void Remove(SocketIOSocket socket) => _sockets.TryRemove(new KeyValuePair<string, SocketIOSocket>(socket.Id, socket));

    // Broadcasts from the namespace: every socket, or those the operator selects.
    public BroadcastOperator To(params string[] rooms) => new BroadcastOperator(this).To(rooms);
    public BroadcastOperator In(params string[] rooms) => To(rooms);
    public BroadcastOperator Except(params string[] rooms) => new BroadcastOperator(this).Except(rooms);
    public BroadcastOperator Volatile => new BroadcastOperator(this).Volatile;
    public BroadcastOperator Timeout(TimeSpan timeout) => new BroadcastOperator(this).Timeout(timeout);
    public ValueTask<int> EmitAsync(string eventName, params object?[] args) => new BroadcastOperator(this).EmitAsync(eventName, args);
    public Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args) => new BroadcastOperator(this).EmitWithAckAsync(eventName, args);
    public ValueTask<IReadOnlyList<SocketIOSocket>> FetchSocketsAsync() => new BroadcastOperator(this).FetchSocketsAsync();
    public void SocketsJoin(params string[] rooms) => new BroadcastOperator(this).SocketsJoin(rooms);
    public void SocketsLeave(string room) => new BroadcastOperator(this).SocketsLeave(room);
    public void DisconnectSockets(bool close = false) => new BroadcastOperator(this).DisconnectSockets(close);
}
