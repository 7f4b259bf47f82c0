using System.Collections.Concurrent;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO;

/// <summary>
/// A client's presence in one namespace: its events and acknowledgements, its rooms, and what the
/// application keeps about it in <see cref="Data"/>.
/// </summary>
public sealed class SocketIOSocket
{
    // The reference keeps a session for these reasons only: a client or server that meant to leave does not come back.
    private static readonly HashSet<string> RecoverableReasons = new(StringComparer.Ordinal)
    {
        DisconnectReason.TransportError, DisconnectReason.TransportClose, DisconnectReason.ForcedClose,
        DisconnectReason.PingTimeout, DisconnectReason.ServerShuttingDown, DisconnectReason.ForcedServerClose,
        DisconnectReason.SlowConsumer,
    };

    private readonly object _gate = new();
    private readonly EventHandlerRegistry<SocketIOEvent> _events;
    private Func<SocketIOEvent, ValueTask>[] _packetMiddleware = [];
    private Func<Exception, ValueTask>[] _errorHandlers = [];
    private Func<string, ValueTask>[] _disconnectingHandlers = [];
    private Func<string, ValueTask>[] _disconnectHandlers = [];
    // Made at the first emit that asks for an ack: most sockets never do, and the table is large.
    private ConcurrentDictionary<long, TaskCompletionSource<SocketIOArgs>>? _acks;

    private ConcurrentDictionary<long, TaskCompletionSource<SocketIOArgs>> Acks =>
        _acks ?? Interlocked.CompareExchange(ref _acks, new(), null) ?? _acks;
    private int _connected;
    private int _closing;

    internal SocketIOSocket(SocketIONamespace ns, SocketIOConnection connection, SocketIOHandshake handshake, Adapters.SocketSession? recovered = null)
    {
        Namespace = ns;
        Connection = connection;
        Handshake = handshake;
        _events = new EventHandlerRegistry<SocketIOEvent>(LogHandlerFailure);
        Id = recovered?.Sid ?? EngineIOServer.NewId();
        // The private id names the session for a later recovery; only the client it was given to knows it.
        Pid = recovered?.Pid ?? (ns.Server.ConnectionStateRecovery is not null ? EngineIOServer.NewId() : null);
        if (recovered is not null)
        {
            Recovered = true;
            Data = recovered.Data;
        }
    }

    /// <summary>Whether this socket is a disconnected one come back, with its id, rooms and data (connection state recovery).</summary>
    public bool Recovered { get; }

    internal string? Pid { get; }

    /// <summary>This socket's id (not the Engine.IO session id); also the name of its own room.</summary>
    public string Id { get; }

    /// <summary>The namespace this socket is in (<c>socket.nsp</c>).</summary>
    public SocketIONamespace Namespace { get; }

    /// <summary>What the client sent when it connected (<c>socket.handshake</c>).</summary>
    public SocketIOHandshake Handshake { get; }

    internal SocketIOConnection Connection { get; }

    /// <summary>The Engine.IO session under this socket (shared by the client's namespaces).</summary>
    public EngineIOSession Engine => Connection.Engine;

    /// <summary>The application's own state for this socket.</summary>
    public ConcurrentDictionary<string, object?> Data { get; } = new(StringComparer.Ordinal);

    /// <summary>True from the moment the socket is admitted (its CONNECT answer) until it disconnects (<c>socket.connected</c>).</summary>
    public bool Connected => System.Threading.Volatile.Read(ref _connected) == 1;

    /// <summary>The rooms this socket is in, its own included.</summary>
    public IReadOnlySet<string> Rooms => Namespace.Adapter.RoomsOf(Id);

    private JsonSerializerOptions JsonOptions => Namespace.Server.JsonOptions;

    private SocketIOParser Parser => Namespace.Server.Parser;

    // ───────────────────────────── listeners ─────────────────────────────

    /// <summary>Handles the event <paramref name="eventName"/>; the handler may answer through <see cref="SocketIOEvent.AckAsync"/>.</summary>
    public SocketIOSocket On(string eventName, Func<SocketIOEvent, ValueTask> handler)
    {
        _events.On(eventName, handler);
        return this;
    }

    /// <inheritdoc cref="On(string, Func{SocketIOEvent, ValueTask})"/>
    public SocketIOSocket On(string eventName, Action<SocketIOEvent> handler) =>
        On(eventName, e => { handler(e); return ValueTask.CompletedTask; });

    /// <summary>Handles the event with its first argument read as <typeparamref name="T"/>.</summary>
    public SocketIOSocket On<T>(string eventName, Func<T?, ValueTask> handler) => On(eventName, e => handler(e.Args.Get<T>(0)));

    /// <inheritdoc cref="On{T}(string, Func{T, ValueTask})"/>
    public SocketIOSocket On<T>(string eventName, Action<T?> handler) =>
        On(eventName, e => { handler(e.Args.Get<T>(0)); return ValueTask.CompletedTask; });

    /// <summary>Handles the event and answers the client's callback (when it gave one) with the handler's result.</summary>
    public SocketIOSocket On<T, TResult>(string eventName, Func<T?, ValueTask<TResult>> handler) =>
        On(eventName, async e =>
        {
            var result = await handler(e.Args.Get<T>(0)).ConfigureAwait(false);
            await e.AckAsync(result).ConfigureAwait(false);
        });

    /// <inheritdoc cref="On{T, TResult}(string, Func{T, ValueTask{TResult}})"/>
    public SocketIOSocket On<T, TResult>(string eventName, Func<T?, TResult> handler) =>
        On(eventName, e => e.AckAsync(handler(e.Args.Get<T>(0))));

    /// <summary>Removes every handler of <paramref name="eventName"/>.</summary>
    public SocketIOSocket Off(string eventName)
    {
        _events.Off(eventName);
        return this;
    }

    /// <summary>A catch-all listener, called for every event before its own handlers, after the catch-all listeners added before it.</summary>
    public SocketIOSocket OnAny(Func<SocketIOEvent, ValueTask> handler)
    {
        _events.OnAny(handler);
        return this;
    }

    /// <inheritdoc cref="OnAny(Func{SocketIOEvent, ValueTask})"/>
    public SocketIOSocket OnAny(Action<SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OnAny(e => { handler(e); return ValueTask.CompletedTask; }, key: handler);
        return this;
    }

    /// <summary>A catch-all listener that runs before the catch-all listeners already added (<c>socket.prependAny(…)</c>).</summary>
    public SocketIOSocket PrependAny(Func<SocketIOEvent, ValueTask> handler)
    {
        _events.OnAny(handler, prepend: true);
        return this;
    }

    /// <inheritdoc cref="PrependAny(Func{SocketIOEvent, ValueTask})"/>
    public SocketIOSocket PrependAny(Action<SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OnAny(e => { handler(e); return ValueTask.CompletedTask; }, key: handler, prepend: true);
        return this;
    }

    /// <summary>Removes the catch-all listener <paramref name="handler"/> (the first, if it was added twice) (<c>socket.offAny(listener)</c>).</summary>
    public SocketIOSocket OffAny(Func<SocketIOEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OffAny(handler);
        return this;
    }

    /// <inheritdoc cref="OffAny(Func{SocketIOEvent, ValueTask})"/>
    public SocketIOSocket OffAny(Action<SocketIOEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OffAny(handler);
        return this;
    }

    /// <summary>Removes every catch-all listener (<c>socket.offAny()</c>).</summary>
    public SocketIOSocket OffAny()
    {
        _events.OffAny(null);
        return this;
    }

    /// <summary>The catch-all listeners in the order they run, each as it was given (<c>socket.listenersAny()</c>).</summary>
    public IReadOnlyList<Delegate> ListenersAny() => _events.ListenersAny();

    /// <summary>
    /// A listener for every event sent to this client (<c>socket.onAnyOutgoing(…)</c>), with its name and
    /// arguments: this socket's emits (with or without acknowledgement) and the broadcasts that reach it,
    /// from this server or another one of the cluster, volatile ones included. Acknowledgements are not
    /// events and are not seen. It runs on the emitting thread before the packet is queued; an exception
    /// it throws is logged.
    /// </summary>
    public SocketIOSocket OnAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        _events.OnAnyOutgoing(listener);
        return this;
    }

    /// <summary>As <see cref="OnAnyOutgoing"/>, running before the outgoing listeners already added (<c>socket.prependAnyOutgoing(…)</c>).</summary>
    public SocketIOSocket PrependAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        _events.OnAnyOutgoing(listener, prepend: true);
        return this;
    }

    /// <summary>Removes the outgoing listener <paramref name="listener"/> (the first, if it was added twice) (<c>socket.offAnyOutgoing(listener)</c>).</summary>
    public SocketIOSocket OffAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _events.OffAnyOutgoing(listener);
        return this;
    }

    /// <summary>Removes every outgoing listener (<c>socket.offAnyOutgoing()</c>).</summary>
    public SocketIOSocket OffAnyOutgoing()
    {
        _events.OffAnyOutgoing(null);
        return this;
    }

    /// <summary>The outgoing listeners in the order they run (<c>socket.listenersAnyOutgoing()</c>).</summary>
    public IReadOnlyList<Action<string, SocketIOArgs>> ListenersAnyOutgoing() => _events.ListenersAnyOutgoing();

    internal bool HasOutgoingListeners => _events.HasOutgoing;

    /// <summary>Tells the outgoing listeners of an event on its way to this socket (a broadcast's, decoded once for all recipients).</summary>
    internal void NotifyOutgoing(string eventName, SocketIOArgs args) => _events.NotifyOutgoing(eventName, args);

    /// <summary>
    /// Adds a middleware for this socket's incoming events (<c>socket.use((packet, next) => …)</c>), run in
    /// the order added for each event, after the catch-all listeners (<see cref="OnAny(Func{SocketIOEvent, ValueTask})"/>,
    /// which see every event, as in the reference) and before the event's own handlers. It may change the
    /// arguments the handlers get (<see cref="SocketIOEvent.SetArgs"/>) or answer the acknowledgement. Throwing
    /// (or faulting its task) rejects the event: the middleware after it and the event's handlers do not
    /// run, and the exception goes to the <see cref="OnError(Action{Exception})"/> listeners; nothing is sent
    /// to the client (a callback it gave is never answered). While a middleware awaits, later events are
    /// read and may be handled first; an event whose middleware ends after the socket disconnected is dropped.
    /// </summary>
    public SocketIOSocket Use(Func<SocketIOEvent, ValueTask> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        lock (_gate) _packetMiddleware = [.. _packetMiddleware, middleware];
        return this;
    }

    /// <inheritdoc cref="Use(Func{SocketIOEvent, ValueTask})"/>
    public SocketIOSocket Use(Action<SocketIOEvent> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        return Use(e => { middleware(e); return ValueTask.CompletedTask; });
    }

    /// <summary>
    /// Called with the exception of a middleware (<see cref="Use(Func{SocketIOEvent, ValueTask})"/>) that
    /// rejected an event (the reference's <c>socket.on("error", …)</c>). Without one the rejection is only
    /// logged at Debug. An event the client emits under the name "error" goes to <c>On("error", …)</c>, not here.
    /// </summary>
    public SocketIOSocket OnError(Func<Exception, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate) _errorHandlers = [.. _errorHandlers, handler];
        return this;
    }

    /// <inheritdoc cref="OnError(Func{Exception, ValueTask})"/>
    public SocketIOSocket OnError(Action<Exception> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return OnError(ex => { handler(ex); return ValueTask.CompletedTask; });
    }

    /// <summary>Called when the socket is about to leave, while it is still in its rooms.</summary>
    public SocketIOSocket OnDisconnecting(Action<string> handler)
    {
        lock (_gate) _disconnectingHandlers = [.. _disconnectingHandlers, r => { handler(r); return ValueTask.CompletedTask; }];
        return this;
    }

    /// <summary>Called once the socket has disconnected, with the reason (see <see cref="DisconnectReason"/>).</summary>
    public SocketIOSocket OnDisconnect(Func<string, ValueTask> handler)
    {
        lock (_gate) _disconnectHandlers = [.. _disconnectHandlers, handler];
        return this;
    }

    /// <inheritdoc cref="OnDisconnect(Func{string, ValueTask})"/>
    public SocketIOSocket OnDisconnect(Action<string> handler) => OnDisconnect(r => { handler(r); return ValueTask.CompletedTask; });

    // ───────────────────────────── emitting ─────────────────────────────

    internal static void CheckReserved(string eventName)
    {
        ReservedEventNames.ThrowIfReserved(eventName, nameof(eventName));
    }

    /// <summary>Emits an event to this client. Arguments are serialized as JSON; <c>byte[]</c> travel as binary.</summary>
    public ValueTask EmitAsync(string eventName, params object?[] args) => EmitCoreAsync(eventName, args, EngineSendFlags.None);

    internal ValueTask EmitCoreAsync(string eventName, object?[] args, EngineSendFlags flags)
    {
        CheckReserved(eventName);
        var packets = SocketIOEncoder.Event(Parser, Namespace.Name, eventName, args, null, JsonOptions);
        // With recovery on, the adapter numbers and keeps the event, so a client that comes back gets it.
        if (Pid is not null)
            return AwaitCount(Namespace.Adapter.BroadcastAsync(Adapters.BroadcastPacket.FromEncoded(packets, Parser), new Adapters.BroadcastOptions
            {
                Rooms = new HashSet<string> { Id }, Local = true,
                Volatile = (flags & EngineSendFlags.Volatile) != 0, Compress = (flags & EngineSendFlags.NoCompression) == 0,
            }));
        _events.NotifyOutgoing(packets, JsonOptions);
        SendPackets(packets, flags);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Emits whose packet is dropped unless the transport can take it right now (<c>socket.volatile</c>):
    /// a poll is waiting, or the WebSocket has nothing queued or in flight. For data a newer emit replaces.
    /// </summary>
    public SocketIOEmitter Volatile => new(this, EngineSendFlags.Volatile);

    /// <summary>
    /// Emits sent compressed or not (<c>socket.compress(false)</c>): with false, uncompressed over a WebSocket
    /// that agreed to permessage-deflate, and no HTTP compression for a polling response holding only such packets.
    /// </summary>
    public SocketIOEmitter Compress(bool compress) => new(this, compress ? EngineSendFlags.None : EngineSendFlags.NoCompression);

    /// <summary>Bytes sent to this client and not yet written to its transport (<see cref="EngineIOSession.BufferedAmount"/>, shared by its namespaces).</summary>
    public long BufferedAmount => Connection.Engine.BufferedAmount;

    /// <summary>
    /// Completes when everything sent to this client has been written (true), or its connection closes first
    /// (false): the reference's engine <c>drain</c> (also <see cref="EngineIOSession.Drain"/> on <see cref="Engine"/>).
    /// </summary>
    public Task<bool> WaitForDrainAsync(CancellationToken cancellationToken = default) => Connection.Engine.WaitForDrainAsync(cancellationToken);

    private static ValueTask AwaitCount(ValueTask<int> pending) => pending.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(pending.AsTask());

    /// <summary>
    /// Emits an event and waits for the client's acknowledgement. Never hangs across a disconnect:
    /// throws <see cref="SocketIODisconnectedException"/> then. See <see cref="Timeout"/> for a deadline.
    /// </summary>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, params object?[] args) => EmitWithAckCoreAsync(eventName, args, null);

    /// <summary>As <see cref="EmitWithAckAsync(string, object?[])"/>, with the first answer read as <typeparamref name="T"/>.</summary>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, params object?[] args) =>
        (await EmitWithAckCoreAsync(eventName, args, null).ConfigureAwait(false)).Get<T>(0);

    /// <summary>An emitter whose acknowledgements must come within <paramref name="timeout"/> (else <see cref="TimeoutException"/>).</summary>
    public SocketIOAckEmitter Timeout(TimeSpan timeout) => new(this, timeout);

    internal async Task<SocketIOArgs> EmitWithAckCoreAsync(string eventName, object?[] args, TimeSpan? timeout)
    {
        CheckReserved(eventName);
        long id = Namespace.NextAckId();
        var answer = ExpectAck(id);
        var packets = SocketIOEncoder.Event(Parser, Namespace.Name, eventName, args, id, JsonOptions);
        _events.NotifyOutgoing(packets, JsonOptions);
        SendPackets(packets);
        if (timeout is not { } limit) return await answer.ConfigureAwait(false);
        try
        {
            return await answer.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ForgetAck(id);
            throw;
        }
    }

    internal Task<SocketIOArgs> ExpectAck(long id)
    {
        var answer = new TaskCompletionSource<SocketIOArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        Acks[id] = answer;
        if (!Connected && Acks.TryRemove(id, out _)) answer.TrySetException(new SocketIODisconnectedException("not connected"));
        return answer.Task;
    }

    internal void ForgetAck(long id) => _acks?.TryRemove(id, out _);

    internal bool SendPackets(EnginePacket[] packets, EngineSendFlags flags = EngineSendFlags.None) => Connected && Connection.Engine.Send(packets, flags);

    internal void SendAck(long id, object?[] args)
    {
        if (!Connected) return;
        Connection.Engine.Send(SocketIOEncoder.Ack(Parser, Namespace.Name, id, args, JsonOptions));
    }

    // ───────────────────────────── rooms and broadcast ─────────────────────────────

    /// <summary>Puts this socket in <paramref name="rooms"/> (<c>socket.join(room)</c>); a room it is in already stays as it is.</summary>
    public void Join(params string[] rooms) => Namespace.Adapter.AddAll(Id, rooms);

    /// <summary>Takes this socket out of <paramref name="room"/> (<c>socket.leave(room)</c>); nothing happens when it is not in it.</summary>
    public void Leave(string room) => Namespace.Adapter.Delete(Id, room);

    /// <summary>Targets the sockets in <paramref name="rooms"/>, this one excluded.</summary>
    public BroadcastOperator To(params string[] rooms) => new BroadcastOperator(Namespace).To(rooms).Except(Id);

    /// <inheritdoc cref="To"/>
    public BroadcastOperator In(params string[] rooms) => To(rooms);

    /// <summary>Targets every other socket of the namespace except those in <paramref name="rooms"/>.</summary>
    public BroadcastOperator Except(params string[] rooms) => Broadcast.Except(rooms);

    /// <summary>Targets every other socket of the namespace.</summary>
    public BroadcastOperator Broadcast => new BroadcastOperator(Namespace).Except(Id);

    // ───────────────────────────── lifecycle ─────────────────────────────

    /// <summary>
    /// Disconnects this socket from its namespace ("server namespace disconnect"); with
    /// <paramref name="close"/>, closes the whole connection (every namespace) as well.
    /// </summary>
    public void Disconnect(bool close = false)
    {
        if (!Connected) return;
        if (close)
        {
            Connection.DisconnectAll();
            return;
        }
        Connection.Engine.Send(SocketIOEncoder.Disconnect(Parser, Namespace.Name));
        OnClose(DisconnectReason.ServerNamespaceDisconnect);
    }

    internal void MarkConnected() => System.Threading.Volatile.Write(ref _connected, 1);

    /// <summary>Undoes the admission of a socket that never connected (its engine closed first): no events.</summary>
    internal void Discard()
    {
        Namespace.Adapter.DeleteAll(Id);
        Namespace.Remove(this);
        Connection.Remove(this);
    }

    internal void OnPacket(SocketIOPacket packet)
    {
        switch (packet.Type)
        {
            case SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent:
                var data = packet.Data!.Value;
                var first = data[0];
                string name = first.ValueKind == JsonValueKind.String ? first.GetString()! : first.GetRawText();
                var e = new SocketIOEvent(this, name, SocketIOArgs.From(data, 1, packet.ReceivedAttachments, JsonOptions), packet.Id);
                // The reference's order: catch-all listeners, then the socket's middleware, then the event's handlers.
                var handlers = _events.Current;
                _events.DispatchAny(handlers, name, e);
                var middleware = System.Threading.Volatile.Read(ref _packetMiddleware);
                if (middleware.Length == 0) _events.DispatchNamed(handlers, name, e);
                else RunPacketMiddleware(middleware, 0, handlers, e);
                break;
            case SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck:
                if (packet.Id is long id && _acks is { } acks && acks.TryRemove(id, out var answer))
                    answer.TrySetResult(SocketIOArgs.From(packet.Data, 0, packet.ReceivedAttachments, JsonOptions));
                break;
            case SocketIOPacketType.Disconnect:
                OnClose(DisconnectReason.ClientNamespaceDisconnect);
                break;
        }
    }

    /// <summary>
    /// Runs the middleware from <paramref name="from"/> on, synchronously while each completes at once (so
    /// events keep their order when none awaits); the rest continues when one awaits.
    /// </summary>
    private void RunPacketMiddleware(Func<SocketIOEvent, ValueTask>[] middleware, int from, EventHandlerRegistry<SocketIOEvent>.Snapshot handlers, SocketIOEvent e)
    {
        for (int i = from; i < middleware.Length; i++)
        {
            ValueTask pending;
            try
            {
                pending = middleware[i](e);
            }
            catch (Exception ex)
            {
                Reject(ex, e);
                return;
            }
            if (!pending.IsCompletedSuccessfully)
            {
                _ = ContinuePacketMiddlewareAsync(pending, middleware, i + 1, handlers, e);
                return;
            }
        }
        if (Connected) _events.DispatchNamed(handlers, e.Name, e);
    }

    private async Task ContinuePacketMiddlewareAsync(ValueTask pending, Func<SocketIOEvent, ValueTask>[] middleware, int next, EventHandlerRegistry<SocketIOEvent>.Snapshot handlers, SocketIOEvent e)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Reject(ex, e);
            return;
        }
        RunPacketMiddleware(middleware, next, handlers, e);
    }

    private void Reject(Exception ex, SocketIOEvent e)
    {
        var handlers = System.Threading.Volatile.Read(ref _errorHandlers);
        if (handlers.Length == 0)
        {
            Namespace.Server.Logger.LogDebug("Socket.IO socket {Id} in {Namespace}: \"{Event}\" rejected by middleware: {Reason}", Id, Namespace.Name, e.Name, ex.Message);
            return;
        }
        foreach (var handler in handlers) EventHandlerRegistry.Run(handler, ex, "error", LogHandlerFailure);
    }

    private void LogHandlerFailure(Exception ex, string eventName) =>
        Namespace.Server.Logger.LogError(ex, "Socket.IO socket {Id} in {Namespace}: the handler of \"{Event}\" failed", Id, Namespace.Name, eventName);

    internal void OnClose(string reason)
    {
        if (!Connected || Interlocked.Exchange(ref _closing, 1) != 0) return;
        // The reference order: "disconnecting" while still in the rooms, then leave them, then "disconnect".
        foreach (var handler in _disconnectingHandlers) EventHandlerRegistry.Run(handler, reason, "disconnecting", LogHandlerFailure);
        if (Pid is not null && RecoverableReasons.Contains(reason))
            Namespace.Adapter.PersistSession(new Adapters.SocketSession(Id, Pid, Rooms.ToArray(), Data));
        System.Threading.Volatile.Write(ref _connected, 0);
        Namespace.Adapter.DeleteAll(Id);
        Namespace.Remove(this);
        Connection.Remove(this);
        if (_acks is { } waiting)
            foreach (var id in waiting.Keys)
                if (waiting.TryRemove(id, out var answer)) answer.TrySetException(new SocketIODisconnectedException(reason));
        foreach (var handler in _disconnectHandlers) EventHandlerRegistry.Run(handler, reason, "disconnect", LogHandlerFailure);
    }
}

/// <summary>Emits with acknowledgements that must come within a deadline (<c>socket.Timeout(…)</c>).</summary>
public readonly struct SocketIOAckEmitter
{
    private readonly SocketIOSocket _socket;
    private readonly TimeSpan _timeout;

    internal SocketIOAckEmitter(SocketIOSocket socket, TimeSpan timeout)
    {
        _socket = socket;
        _timeout = timeout;
    }

    /// <summary>
    /// Emits to the socket and waits for the client's acknowledgement: <see cref="TimeoutException"/> when it
    /// does not come in time, <see cref="SocketIODisconnectedException"/> when the socket disconnects first.
    /// </summary>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, params object?[] args) =>
        _socket.EmitWithAckCoreAsync(eventName, args, _timeout);

    /// <summary>As <see cref="EmitWithAckAsync(string, object?[])"/>, with the first answer read as <typeparamref name="T"/>.</summary>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, params object?[] args) =>
        (await _socket.EmitWithAckCoreAsync(eventName, args, _timeout).ConfigureAwait(false)).Get<T>(0);
}

/// <summary>Emits to one socket with send flags (<see cref="SocketIOSocket.Volatile"/>, <see cref="SocketIOSocket.Compress"/>).</summary>
public readonly struct SocketIOEmitter
{
    private readonly SocketIOSocket _socket;
    private readonly EngineSendFlags _flags;

    internal SocketIOEmitter(SocketIOSocket socket, EngineSendFlags flags)
    {
        _socket = socket;
        _flags = flags;
    }

    /// <summary>The same emitter, volatile as well.</summary>
    public SocketIOEmitter Volatile => new(_socket, _flags | EngineSendFlags.Volatile);

    /// <summary>The same emitter, compressed or not.</summary>
    public SocketIOEmitter Compress(bool compress) =>
        new(_socket, compress ? _flags & ~EngineSendFlags.NoCompression : _flags | EngineSendFlags.NoCompression);

    /// <summary>As <see cref="SocketIOSocket.EmitAsync"/>, with this emitter's flags.</summary>
    public ValueTask EmitAsync(string eventName, params object?[] args) => _socket.EmitCoreAsync(eventName, args, _flags);
}
