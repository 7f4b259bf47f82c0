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
    // Namespaces are created (and, with CleanupEmptyChildNamespaces, removed) under this lock, so each is
    // made once and announced once; lookups of existing ones read the dictionary without it.
    private readonly object _namespacesGate = new();
    private Action<SocketIONamespace>[] _newNamespaceHandlers = [];

    /// <summary>
    /// A server with <paramref name="options"/> (null: the defaults), its Engine.IO server and the main
    /// namespace. Logs go to the "Duplex.SocketIO" and "Duplex.SocketIO.EngineIO" categories of
    /// <paramref name="loggerFactory"/>; null logs nothing. <c>AddSocketIO</c> registers one for <c>MapSocketIO</c>.
    /// </summary>
    public SocketIOServer(SocketIOOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        Options = options ?? new SocketIOOptions();
        LoggerFactory = loggerFactory;
        Logger = loggerFactory?.CreateLogger("Duplex.SocketIO") ?? NullLogger.Instance;
        JsonOptions = SocketIOJson.CreateOptions(Options.JsonSerializerOptions, new BinaryPlaceholderConverter());
        Engine = new EngineIOServer(Options, loggerFactory?.CreateLogger("Duplex.SocketIO.EngineIO"));
        Engine.Connection += session => _ = new SocketIOConnection(this, session);
        Of("/");
    }

    /// <summary>The options the server was made with, Engine.IO's included.</summary>
    public SocketIOOptions Options { get; }

    /// <summary>The Engine.IO server under it (the reference's <c>io.engine</c>): sessions, transports, <see cref="EngineIOServer.ClientsCount"/>.</summary>
    public EngineIOServer Engine { get; }

    internal ILogger Logger { get; }

    /// <summary>Where adapters make their own log categories (null: nothing is logged).</summary>
    internal ILoggerFactory? LoggerFactory { get; }

    internal JsonSerializerOptions JsonOptions { get; }

    /// <summary>The wire format of every packet of this server (<see cref="SocketIOOptions.Parser"/>).</summary>
    internal SocketIOParser Parser => Options.Parser;

    /// <summary>The main namespace, "/".</summary>
    public SocketIONamespace Sockets => Of("/");

    /// <summary>The namespace named <paramref name="name"/> (created on first use).</summary>
    public SocketIONamespace Of(string name)
    {
        if (!name.StartsWith('/')) name = "/" + name;
        if (_namespaces.TryGetValue(name, out var existing)) return existing;
        SocketIONamespace ns;
        lock (_namespacesGate)
        {
            if (_namespaces.TryGetValue(name, out existing)) return existing;
            ns = new SocketIONamespace(this, name);
            _namespaces[name] = ns;
        }
        if (name != "/") RaiseNewNamespace(ns);
        return ns;
    }

    /// <summary>
    /// Called with each namespace when it is created (the reference's <c>io.on("new_namespace", …)</c>): by
    /// <see cref="Of(string)"/>, or for a client's first connection to a name a dynamic pattern accepts,
    /// before that connection's middleware runs (so the handler may add middleware and connection handlers
    /// to it, which reach that namespace only). Not for the main namespace, nor for the pattern itself.
    /// A handler that throws is logged.
    /// </summary>
    public SocketIOServer OnNewNamespace(Action<SocketIONamespace> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_namespacesGate) _newNamespaceHandlers = [.. _newNamespaceHandlers, handler];
        return this;
    }

    private void RaiseNewNamespace(SocketIONamespace ns)
    {
        foreach (var handler in Volatile.Read(ref _newNamespaceHandlers))
        {
            try
            {
                handler(ns);
            }
            catch (Exception ex)
            {
                Logger.LogError(ex, "Socket.IO new_namespace handler failed for {Namespace}", ns.Name);
            }
        }
    }

    /// <summary>
    /// A dynamic namespace: clients may connect to any name <paramref name="matches"/> accepts; each
    /// such namespace is created on first connection (see <see cref="OnNewNamespace"/>) and runs the returned
    /// parent's middleware and handlers (also those added later), then its own.
    /// </summary>
    public SocketIONamespace Of(Func<string, bool> matches)
    {
        var parent = new SocketIONamespace(this, "(dynamic)", isTemplate: true);
        lock (_dynamic) _dynamic.Add((matches, parent));
        return parent;
    }

    /// <summary>
    /// The namespace a client's CONNECT names, made when a dynamic pattern accepts the name. The caller
    /// must <see cref="SocketIONamespace.ReleaseConnect"/> it once the connection is admitted or refused: a
    /// removable child (<see cref="SocketIOOptions.CleanupEmptyChildNamespaces"/>) is held meanwhile, so it
    /// cannot be removed under a connection on its way in.
    /// </summary>
    internal SocketIONamespace? Lookup(string name)
    {
        if (_namespaces.TryGetValue(name, out var ns) && !ns.IsRemovable) return ns;
        SocketIONamespace? parent = ns is null ? FindPattern(name) : null;
        if (ns is null && parent is null) return null;
        bool created = false;
        lock (_namespacesGate)
        {
            if (!_namespaces.TryGetValue(name, out ns))
            {
                // Removed since the first look: made anew from its pattern.
                parent ??= FindPattern(name);
                if (parent is null) return null;
                ns = new SocketIONamespace(this, name, parent);
                _namespaces[name] = ns;
                created = true;
            }
            if (ns.IsRemovable) ns.PendingConnects++;
        }
        if (created) RaiseNewNamespace(ns);
        return ns;
    }

    private SocketIONamespace? FindPattern(string name)
    {
        lock (_dynamic)
            foreach (var (matches, parent) in _dynamic)
                if (matches(name)) return parent;
        return null;
    }

    /// <summary>Whether the namespace <paramref name="name"/> exists now (tests: a removed child does not).</summary>
    internal bool HasNamespace(string name) => _namespaces.ContainsKey(name);

    /// <summary>The lock under which namespaces are created and removable ones counted and removed.</summary>
    internal object NamespacesGate => _namespacesGate;

    /// <summary>Forgets <paramref name="ns"/> (an empty child being removed); called under <see cref="NamespacesGate"/>.</summary>
    internal void RemoveNamespaceLocked(SocketIONamespace ns) =>
        _namespaces.TryRemove(new KeyValuePair<string, SocketIONamespace>(ns.Name, ns));

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
    /// <summary>Adds a middleware to the main namespace (<c>io.use(…)</c>): see <see cref="SocketIONamespace.Use(Func{SocketIOSocket, ValueTask})"/>.</summary>
    public SocketIOServer Use(Func<SocketIOSocket, ValueTask> middleware) { Sockets.Use(middleware); return this; }
    /// <inheritdoc cref="Use(Func{SocketIOSocket, ValueTask})"/>
    public SocketIOServer Use(Action<SocketIOSocket> middleware) { Sockets.Use(middleware); return this; }
    /// <summary>Called for each socket connected to the main namespace (<c>io.on("connection", …)</c>), after the client got its CONNECT answer.</summary>
    public SocketIOServer OnConnection(Func<SocketIOSocket, ValueTask> handler) { Sockets.OnConnection(handler); return this; }
    /// <inheritdoc cref="OnConnection(Func{SocketIOSocket, ValueTask})"/>
    public SocketIOServer OnConnection(Action<SocketIOSocket> handler) { Sockets.OnConnection(handler); return this; }
    /// <summary>Targets the main namespace's sockets in <paramref name="rooms"/>, on every server (<c>io.to(room)</c>).</summary>
    public BroadcastOperator To(params string[] rooms) => Sockets.To(rooms);
    /// <inheritdoc cref="To"/>
    public BroadcastOperator In(params string[] rooms) => Sockets.In(rooms);
    /// <summary>Targets the main namespace's sockets except those in <paramref name="rooms"/> (<c>io.except(room)</c>).</summary>
    public BroadcastOperator Except(params string[] rooms) => Sockets.Except(rooms);
    /// <summary>
    /// Emits to every socket of the main namespace, on every server (<c>io.emit(…)</c>). Returns how many
    /// sockets of this server it was handed to; a reserved name ("connect", "disconnect" …) throws
    /// <see cref="ArgumentException"/>.
    /// </summary>
    public ValueTask<int> EmitAsync(string eventName, params object?[] args) => Sockets.EmitAsync(eventName, args);
    /// <summary>The main namespace's sockets on every server (<c>io.fetchSockets()</c>); see <see cref="BroadcastOperator.FetchSocketsAsync"/>.</summary>
    public ValueTask<IReadOnlyList<Adapters.FetchedSocket>> FetchSocketsAsync(CancellationToken cancellationToken = default) => Sockets.FetchSocketsAsync(cancellationToken);
    /// <summary>Makes every socket of the main namespace join <paramref name="rooms"/>, without waiting (<c>io.socketsJoin(…)</c>).</summary>
    public void SocketsJoin(params string[] rooms) => Sockets.SocketsJoin(rooms);
    /// <summary>Makes every socket of the main namespace leave <paramref name="room"/>, without waiting (<c>io.socketsLeave(…)</c>).</summary>
    public void SocketsLeave(string room) => Sockets.SocketsLeave(room);
    /// <summary>
    /// Disconnects every socket of the main namespace, without waiting (<c>io.disconnectSockets(close)</c>);
    /// with <paramref name="close"/>, their whole connections.
    /// </summary>
    public void DisconnectSockets(bool close = false) => Sockets.DisconnectSockets(close);
    /// <summary>As <see cref="SocketsJoin"/>, completing once it is done on every server.</summary>
    public ValueTask SocketsJoinAsync(params string[] rooms) => Sockets.SocketsJoinAsync(rooms);
    /// <summary>Makes every socket of the main namespace leave <paramref name="rooms"/>, completing once it is done on every server.</summary>
    public ValueTask SocketsLeaveAsync(params string[] rooms) => Sockets.SocketsLeaveAsync(rooms);
    /// <summary>As <see cref="DisconnectSockets"/>, completing once it is done on every server.</summary>
    public ValueTask DisconnectSocketsAsync(bool close = false) => Sockets.DisconnectSocketsAsync(close);
    /// <summary>The main namespace's sockets of this server only: nothing goes to other servers (<c>io.local</c>).</summary>
    public BroadcastOperator Local => Sockets.Local;
    /// <summary>
    /// The main namespace's sockets, with <paramref name="timeout"/> for the acknowledgements of
    /// <see cref="BroadcastOperator.EmitWithAckAsync"/> and <see cref="BroadcastOperator.ServerSideEmitWithAckAsync"/> (<c>io.timeout(ms)</c>).
    /// </summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => Sockets.Timeout(timeout);
    /// <summary>
    /// Handles <paramref name="eventName"/> when another server of the cluster sends it with
    /// <see cref="ServerSideEmitAsync"/> (the reference's <c>io.on(event, …)</c> for server-side emits).
    /// </summary>
    public SocketIOServer OnServerSideEmit(string eventName, Func<Adapters.SocketIOServerEvent, ValueTask> handler) { Sockets.OnServerSideEmit(eventName, handler); return this; }
    /// <inheritdoc cref="OnServerSideEmit(string, Func{Adapters.SocketIOServerEvent, ValueTask})"/>
    public SocketIOServer OnServerSideEmit(string eventName, Action<Adapters.SocketIOServerEvent> handler) { Sockets.OnServerSideEmit(eventName, handler); return this; }
    /// <summary>Sends an event to the other servers of the cluster, not to this one (<c>io.serverSideEmit(…)</c>).</summary>
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitAsync(eventName, args);
    /// <summary>
    /// As <see cref="ServerSideEmitAsync"/>, and returns one answer from every other server
    /// (<c>io.serverSideEmitWithAck(…)</c>); see <see cref="BroadcastOperator.ServerSideEmitWithAckAsync"/>.
    /// </summary>
    public Task<IReadOnlyList<System.Text.Json.JsonElement>> ServerSideEmitWithAckAsync(string eventName, params object?[] args) => Sockets.ServerSideEmitWithAckAsync(eventName, args);
    /// <summary>How many servers share the main namespace, this one included (<c>io.serverCount()</c>).</summary>
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
