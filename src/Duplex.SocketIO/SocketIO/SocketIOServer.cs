using System.Collections.Concurrent;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex.SocketIO;

/// <summary>
/// A Socket.IO v5 server over Engine.IO v4: namespaces (the main one is "/"), their middleware,
/// sockets and rooms. Host it with <c>app.MapSocketIO(…)</c>.
/// </summary>
public sealed class SocketIOServer
{
    private readonly ConcurrentDictionary<string, SocketIONamespace> _namespaces = new(StringComparer.Ordinal);
    private readonly List<(Func<string, bool> Matches, SocketIONamespace Parent)> _dynamic = new();
    private Func<SocketIONamespace, Adapters.SocketIOAdapter> _adapterFactory = ns => new Adapters.InMemoryAdapter(ns);

    public SocketIOServer(SocketIOOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        Options = options ?? new SocketIOOptions();
        Logger = loggerFactory?.CreateLogger("Duplex.SocketIO") ?? NullLogger.Instance;
        JsonOptions = SocketIOJson.CreateOptions(Options.JsonSerializerOptions, new BinaryPlaceholderConverter());
        Engine = new EngineIOServer(Options, loggerFactory?.CreateLogger("Duplex.SocketIO.EngineIO"));
        Engine.Connection += session => _ = new SocketIOConnection(this, session);
        Of("/");
    }

    public SocketIOOptions Options { get; }

    public EngineIOServer Engine { get; }

    internal ILogger Logger { get; }

    internal JsonSerializerOptions JsonOptions { get; }

    /// <summary>The main namespace, "/".</summary>
    public SocketIONamespace Sockets => Of("/");

    /// <summary>The namespace named <paramref name="name"/> (created on first use).</summary>
    public SocketIONamespace Of(string name)
    {
        if (!name.StartsWith('/')) name = "/" + name;
        return _namespaces.GetOrAdd(name, n => new SocketIONamespace(this, n));
    }

    /// <summary>
    /// A dynamic namespace: clients may connect to any name <paramref name="matches"/> accepts; each
    /// such namespace is created on first connection and uses the returned parent's middleware and handlers.
    /// </summary>
    public SocketIONamespace Of(Func<string, bool> matches)
    {
        var parent = new SocketIONamespace(this, "(dynamic)", isTemplate: true);
        lock (_dynamic) _dynamic.Add((matches, parent));
        return parent;
    }

    internal SocketIONamespace? Lookup(string name)
    {
        if (_namespaces.TryGetValue(name, out var ns)) return ns;
        lock (_dynamic)
            foreach (var (matches, parent) in _dynamic)
                if (matches(name)) return _namespaces.GetOrAdd(name, n => new SocketIONamespace(this, n, parent));
        return null;
    }

    /// <summary>
    /// Makes every namespace use the adapter <paramref name="factory"/> makes for it (the reference's
    /// <c>io.adapter(createAdapter(…))</c>): e.g. the Redis adapter, so that rooms and broadcasts span every
    /// server on the same Redis. Call it before clients connect; namespaces that exist get a new adapter too.
    /// The default is <see cref="Adapters.InMemoryAdapter"/> (this process only).
    /// </summary>
    public SocketIOServer UseAdapter(Func<SocketIONamespace, Adapters.SocketIOAdapter> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Volatile.Write(ref _adapterFactory, factory);
        foreach (var ns in _namespaces.Values) ns.ReplaceAdapter(factory(ns));
        return this;
    }

    /// <summary>
    /// Connection state recovery (the reference's <c>connectionStateRecovery</c>); null (the default) is off.
    /// Set it before clients connect. Kept by the in-memory adapter only (as with the reference's Redis adapter).
    /// </summary>
    public Adapters.ConnectionStateRecoveryOptions? ConnectionStateRecovery { get; set; }

    internal Adapters.SocketIOAdapter CreateAdapter(SocketIONamespace ns) => Volatile.Read(ref _adapterFactory)(ns);

    /// <summary>Completes when every namespace's adapter is ready (e.g. subscribed to Redis).</summary>
    public Task AdaptersReady => Task.WhenAll(_namespaces.Values.Select(ns => ns.Adapter.Ready));

    // The main namespace's API, as on the reference server object.
    public SocketIOServer Use(Func<SocketIOSocket, ValueTask> middleware) { Sockets.Use(middleware); return this; }
    public SocketIOServer Use(Action<SocketIOSocket> middleware) { Sockets.Use(middleware); return this; }
    public SocketIOServer OnConnection(Func<SocketIOSocket, ValueTask> handler) { Sockets.OnConnection(handler); return this; }
    public SocketIOServer OnConnection(Action<SocketIOSocket> handler) { Sockets.OnConnection(handler); return this; }
    public BroadcastOperator To(params string[] rooms) => Sockets.To(rooms);
    public BroadcastOperator In(params string[] rooms) => Sockets.In(rooms);
    public BroadcastOperator Except(params string[] rooms) => Sockets.Except(rooms);
    public ValueTask<int> EmitAsync(string eventName, params object?[] args) => Sockets.EmitAsync(eventName, args);
    public ValueTask<IReadOnlyList<Adapters.FetchedSocket>> FetchSocketsAsync(CancellationToken cancellationToken = default) => Sockets.FetchSocketsAsync(cancellationToken);
    public void SocketsJoin(params string[] rooms) => Sockets.SocketsJoin(rooms);
    public void SocketsLeave(string room) => Sockets.SocketsLeave(room);
    public void DisconnectSockets(bool close = false) => Sockets.DisconnectSockets(close);
    public ValueTask SocketsJoinAsync(params string[] rooms) => Sockets.SocketsJoinAsync(rooms);
    public ValueTask SocketsLeaveAsync(params string[] rooms) => Sockets.SocketsLeaveAsync(rooms);
    public ValueTask DisconnectSocketsAsync(bool close = false) => Sockets.DisconnectSocketsAsync(close);
    public BroadcastOperator Local => Sockets.Local;
    public BroadcastOperator Timeout(TimeSpan timeout) => Sockets.Timeout(timeout);
    public SocketIOServer OnServerSideEmit(string eventName, Func<Adapters.SocketIOServerEvent, ValueTask> handler) { Sockets.OnServerSideEmit(eventName, handler); return this; }
    public SocketIOServer OnServerSideEmit(string eventName, Action<Adapters.SocketIOServerEvent> handler) { Sockets.OnServerSideEmit(eventName, handler); return this; }
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitAsync(eventName, args);
    public Task<IReadOnlyList<System.Text.Json.JsonElement>> ServerSideEmitWithAckAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitWithAckAsync(eventName, args);
    public ValueTask<int> ServerCountAsync(CancellationToken cancellationToken = default) => Sockets.ServerCountAsync(cancellationToken);

    /// <summary>Closes every connection ("server shutting down").</summary>
    public void Close() => Engine.CloseAll();

    /// <summary>Closes every connection and releases the adapters (their connections to other nodes).</summary>
    public async ValueTask CloseAsync()
    {
        Engine.CloseAll();
        foreach (var ns in _namespaces.Values) await ns.Adapter.DisposeAsync().ConfigureAwait(false);
    }
}
