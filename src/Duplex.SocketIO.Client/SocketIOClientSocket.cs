using System.Text.Json;
using System.Text.Json.Nodes;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Client;

/// <summary>
/// The client's presence in one namespace (the npm client's <c>Socket</c>): its connection, events,
/// emits and acknowledgements. Several share the one Engine.IO connection of their
/// <see cref="SocketIOClient"/>; get them with <see cref="SocketIOClient.Of"/>.
/// </summary>
public sealed class SocketIOClientSocket
{
    private readonly SocketIOClient _client;
    private readonly object _gate = new();
    private readonly AckRegistry _acks = new();
    private readonly SendBuffer _buffer;
    private readonly RetryQueue? _retries; // with SocketIOClientOptions.Retries > 0: every emit goes through it
    private readonly EventHandlerRegistry<SocketIOClientEvent> _events;

    // State, guarded by _gate.
    private bool _active;
    private bool _connected;
    private string? _id;
    private string? _pid;
    private string? _lastOffset;
    private bool _recovered;
    private EngineIOClientSession? _session; // the session CONNECT went out on (and, once connected, the one in use)
    private TaskCompletionSource? _connecting;
    private string? _lastFailure; // why the last attempt ended before connecting, for the timeout's message
    private readonly List<SocketIOClientEvent> _received = new(); // events that came before the CONNECT answer
    private const int MaxEarlyEvents = 10_000;

    internal SocketIOClientSocket(SocketIOClient client, string nsp, Func<CancellationToken, ValueTask<object?>>? auth)
    {
        _client = client;
        Namespace = nsp;
        Auth = auth;
        _events = new EventHandlerRegistry<SocketIOClientEvent>((ex, eventName) =>
            _client.Options.Logger?.LogError(ex, "Socket.IO client: the handler of \"{Event}\" in {Namespace} failed", eventName, Namespace));
        _buffer = new SendBuffer(Math.Max(0, client.Options.MaxBufferedEmits));
        if (client.Options.Retries > 0)
            _retries = new RetryQueue(this, client.Options.Retries, Math.Max(0, client.Options.MaxBufferedEmits), client.Options.Logger);
    }

    /// <summary>The namespace, such as "/" or "/admin".</summary>
    public string Namespace { get; }

    /// <summary>The <c>auth</c> payload, asked for on every connection attempt; null sends none.</summary>
    public Func<CancellationToken, ValueTask<object?>>? Auth { get; set; }

    /// <summary>The id the server gave this socket on its last connection; null while disconnected.</summary>
    public string? Id
    {
        get { lock (_gate) return _id; }
    }

    /// <summary>True while the namespace is connected.</summary>
    public bool IsConnected
    {
        get { lock (_gate) return _connected; }
    }

    /// <summary>True when the socket wants to be connected: it reconnects after losing the connection.</summary>
    public bool IsActive
    {
        get { lock (_gate) return _active; }
    }

    /// <summary>
    /// Whether the last connection recovered the previous session (connection state recovery): the
    /// server kept this socket's id and rooms, and sent the events it missed.
    /// </summary>
    public bool Recovered
    {
        get { lock (_gate) return _recovered; }
    }

    /// <summary>How many emits wait in the buffer for the connection.</summary>
    public int BufferedCount
    {
        get { lock (_gate) return _buffer.Count; }
    }

    /// <summary>
    /// With <see cref="SocketIOClientOptions.Retries"/>: how many emits wait in the retry queue (the one in
    /// flight included) for their acknowledgement; 0 otherwise.
    /// </summary>
    public int RetryQueueCount => _retries?.Count ?? 0;

    /// <summary>Raised on each successful connection to the namespace (npm <c>connect</c>).</summary>
    public event Action? Connected;

    /// <summary>
    /// Raised when a connection ends, with the reason as the npm client names it: "io server disconnect",
    /// "io client disconnect", "transport close", "transport error", "ping timeout", "parse error".
    /// </summary>
    public event Action<string>? Disconnected;

    /// <summary>Raised when a connection attempt fails: refused by the server, or the transport failed (npm <c>connect_error</c>).</summary>
    public event Action<SocketIOConnectException>? ConnectError;

    private JsonSerializerOptions JsonOptions => _client.JsonOptions;

    private SocketIOParser Parser => _client.Options.Parser;

    // ───────────────────────────── listeners ─────────────────────────────

    /// <summary>Handles the event <paramref name="eventName"/>; the handler may answer the server through <see cref="SocketIOClientEvent.AckAsync"/>.</summary>
    public SocketIOClientSocket On(string eventName, Func<SocketIOClientEvent, ValueTask> handler)
    {
        _events.On(eventName, handler);
        return this;
    }

    /// <inheritdoc cref="On(string, Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClientSocket On(string eventName, Action<SocketIOClientEvent> handler) =>
        On(eventName, e => { handler(e); return ValueTask.CompletedTask; });

    /// <summary>Handles the event with its first argument read as <typeparamref name="T"/> (System.Text.Json).</summary>
    public SocketIOClientSocket On<T>(string eventName, Action<T?> handler) =>
        On(eventName, e => { handler(e.Args.Get<T>(0)); return ValueTask.CompletedTask; });

    /// <inheritdoc cref="On{T}(string, Action{T})"/>
    public SocketIOClientSocket On<T>(string eventName, Func<T?, ValueTask> handler) => On(eventName, e => handler(e.Args.Get<T>(0)));

    /// <summary>Handles the event and answers the server's acknowledgement (when it asked for one) with the handler's result.</summary>
    public SocketIOClientSocket On<T, TResult>(string eventName, Func<T?, ValueTask<TResult>> handler) =>
        On(eventName, async e =>
        {
            var result = await handler(e.Args.Get<T>(0)).ConfigureAwait(false);
            await e.AckAsync(result).ConfigureAwait(false);
        });

    /// <inheritdoc cref="On{T, TResult}(string, Func{T, ValueTask{TResult}})"/>
    public SocketIOClientSocket On<T, TResult>(string eventName, Func<T?, TResult> handler) =>
        On(eventName, e => e.AckAsync(handler(e.Args.Get<T>(0))));

    /// <summary>Removes every handler of <paramref name="eventName"/>.</summary>
    public SocketIOClientSocket Off(string eventName)
    {
        _events.Off(eventName);
        return this;
    }

    /// <summary>A catch-all listener, called for every event before its own handlers, after the catch-all listeners added before it.</summary>
    public SocketIOClientSocket OnAny(Func<SocketIOClientEvent, ValueTask> handler)
    {
        _events.OnAny(handler);
        return this;
    }

    /// <inheritdoc cref="OnAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClientSocket OnAny(Action<SocketIOClientEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OnAny(e => { handler(e); return ValueTask.CompletedTask; }, key: handler);
        return this;
    }

    /// <summary>A catch-all listener that runs before the catch-all listeners already added (npm <c>socket.prependAny(…)</c>).</summary>
    public SocketIOClientSocket PrependAny(Func<SocketIOClientEvent, ValueTask> handler)
    {
        _events.OnAny(handler, prepend: true);
        return this;
    }

    /// <inheritdoc cref="PrependAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClientSocket PrependAny(Action<SocketIOClientEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OnAny(e => { handler(e); return ValueTask.CompletedTask; }, key: handler, prepend: true);
        return this;
    }

    /// <summary>Removes the catch-all listener <paramref name="handler"/> (the first, if it was added twice) (npm <c>socket.offAny(listener)</c>).</summary>
    public SocketIOClientSocket OffAny(Func<SocketIOClientEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OffAny(handler);
        return this;
    }

    /// <inheritdoc cref="OffAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClientSocket OffAny(Action<SocketIOClientEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _events.OffAny(handler);
        return this;
    }

    /// <summary>Removes every catch-all listener (npm <c>socket.offAny()</c>).</summary>
    public SocketIOClientSocket OffAny()
    {
        _events.OffAny(null);
        return this;
    }

    /// <summary>The catch-all listeners in the order they run, each as it was given (npm <c>socket.listenersAny()</c>).</summary>
    public IReadOnlyList<Delegate> ListenersAny() => _events.ListenersAny();

    /// <summary>
    /// A listener for every event this socket sends (npm <c>socket.onAnyOutgoing(…)</c>), with its name and
    /// arguments, at the moment it goes to the connection: at once when connected, or when the buffer is
    /// flushed on connection. A volatile emit dropped while disconnected, and acknowledgements, are not
    /// seen. An exception it throws is logged.
    /// </summary>
    public SocketIOClientSocket OnAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        _events.OnAnyOutgoing(listener);
        return this;
    }

    /// <summary>As <see cref="OnAnyOutgoing"/>, running before the outgoing listeners already added (npm <c>socket.prependAnyOutgoing(…)</c>).</summary>
    public SocketIOClientSocket PrependAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        _events.OnAnyOutgoing(listener, prepend: true);
        return this;
    }

    /// <summary>Removes the outgoing listener <paramref name="listener"/> (the first, if it was added twice) (npm <c>socket.offAnyOutgoing(listener)</c>).</summary>
    public SocketIOClientSocket OffAnyOutgoing(Action<string, SocketIOArgs> listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _events.OffAnyOutgoing(listener);
        return this;
    }

    /// <summary>Removes every outgoing listener (npm <c>socket.offAnyOutgoing()</c>).</summary>
    public SocketIOClientSocket OffAnyOutgoing()
    {
        _events.OffAnyOutgoing(null);
        return this;
    }

    /// <summary>The outgoing listeners in the order they run (npm <c>socket.listenersAnyOutgoing()</c>).</summary>
    public IReadOnlyList<Action<string, SocketIOArgs>> ListenersAnyOutgoing() => _events.ListenersAnyOutgoing();

    // ───────────────────────────── connecting ─────────────────────────────

    /// <summary>
    /// Connects to the namespace (opening the shared Engine.IO connection if needed) and waits for the
    /// server's answer. Throws <see cref="SocketIOConnectException"/> when the server refuses (with its
    /// message and data), when the transport fails, or after <see cref="SocketIOClientOptions.ConnectTimeout"/>.
    /// Once connected, a lost connection is re-established as the reconnection options say.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource waiter;
        lock (_gate)
        {
            if (_connected) return;
            _active = true;
            _lastFailure = null;
            waiter = _connecting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        var limit = _client.Options.ConnectTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            var session = await _client.OpenSessionAsync(timeout.Token).ConfigureAwait(false);
            await SendConnectAsync(session, timeout.Token).ConfigureAwait(false);
            await waiter.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (SocketIOConnectException)
        {
            throw; // reported where it happened
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await GiveUpAsync(waiter, new OperationCanceledException(cancellationToken)).ConfigureAwait(false);
            throw;
        }
        catch (Exception ex)
        {
            string? lastFailure;
            lock (_gate) lastFailure = _lastFailure;
            var error = ex is OperationCanceledException or TimeoutException
                ? new SocketIOConnectException($"connecting to {_client.Uri} (namespace {Namespace}) took longer than {limit.TotalSeconds:0.###} s"
                    + (lastFailure is null ? "" : $"; the last attempt ended with: {lastFailure}"), null, new TimeoutException(ex.Message, ex))
                : new SocketIOConnectException($"connecting to {_client.Uri} (namespace {Namespace}) failed: {ex.Message}", null, ex);
            await GiveUpAsync(waiter, error).ConfigureAwait(false);
            RaiseConnectError(error);
            throw error;
        }
    }

    private async Task GiveUpAsync(TaskCompletionSource waiter, Exception error)
    {
        lock (_gate)
        {
            if (_connected) return;
            _active = false;
            _session = null;
            if (_connecting == waiter) _connecting = null;
            _buffer.Drain();
        }
        waiter.TrySetException(error);
        _acks.FailAll(error);
        await _client.ReleaseIfIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Sends CONNECT on <paramref name="session"/> unless already sent there; asks <see cref="Auth"/> first.</summary>
    private async Task SendConnectAsync(EngineIOClientSession session, CancellationToken cancellationToken)
    {
        string? pid, offset;
        lock (_gate)
        {
            if (!_active || _connected || ReferenceEquals(_session, session)) return;
            _session = session;
            _received.Clear();
            pid = _pid;
            offset = _lastOffset;
        }
        var auth = Auth is { } callback ? await callback(cancellationToken).ConfigureAwait(false) : null;
        JsonObject? data = null;
        if (auth is not null)
        {
            data = SocketIOJson.ToNode(auth, JsonOptions) as JsonObject
                ?? throw new ArgumentException("the auth payload must serialize to a JSON object");
        }
        if (pid is not null)
        {
            // Connection state recovery: the server finds the session by pid and replays what came after offset.
            data ??= new JsonObject();
            if (!data.ContainsKey("pid")) data["pid"] = pid;
            if (offset is not null && !data.ContainsKey("offset")) data["offset"] = offset;
        }
        session.Send(SocketIOEncoder.ClientConnect(Parser, Namespace, data));
    }

    /// <summary>A new Engine.IO session opened: an active namespace (re)connects on it.</summary>
    internal void OnSessionOpen(EngineIOClientSession session)
    {
        lock (_gate)
            if (!_active || _connected) return;
        _ = ConnectOnSessionAsync(session);
    }

    private async Task ConnectOnSessionAsync(EngineIOClientSession session)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_client.Options.ConnectTimeout);
            await SendConnectAsync(session, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The auth callback failed: this attempt cannot go on.
            var error = new SocketIOConnectException($"the auth callback of {Namespace} failed: {ex.Message}", null, ex);
            if (FailConnect(error, session: null)) await _client.ReleaseIfIdleAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The Engine.IO session ended: the namespace is disconnected (and reconnects if still active).</summary>
    internal void OnSessionClosed(EngineIOClientSession session, string reason, Exception? error)
    {
        bool wasConnected;
        lock (_gate)
        {
            if (!ReferenceEquals(_session, session)) return;
            wasConnected = _connected;
            if (!wasConnected) _lastFailure = reason + (error is null ? "" : ": " + error.Message);
            _connected = false;
            _id = null;
            _session = null;
        }
        if (!wasConnected) return;
        _acks.FailSent(new SocketIODisconnectedException(reason));
        RaiseDisconnected(reason);
    }

    /// <summary>Reconnection is off or gave up: nothing buffered will ever go out.</summary>
    internal void OnGaveUp(SocketIOConnectException error, string reason)
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (!_active || _connected) return;
            _active = false;
            waiter = _connecting;
            _connecting = null;
            _buffer.Drain();
        }
        var gone = new SocketIODisconnectedException(reason);
        _acks.FailAll(gone);
        _retries?.FailAll(gone);
        waiter?.TrySetException(error);
    }

    /// <summary>
    /// Leaves the namespace ("io client disconnect"): tells the server, fails pending acknowledgements,
    /// drops buffered emits, and closes the Engine.IO connection when no other namespace uses it.
    /// </summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        await DisconnectCoreAsync().ConfigureAwait(false);
        await _client.ReleaseIfIdleAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    internal Task DisconnectCoreAsync()
    {
        bool wasConnected;
        EngineIOClientSession? session;
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            wasConnected = _connected;
            session = _session;
            _active = false;
            _connected = false;
            _id = null;
            _session = null;
            waiter = _connecting;
            _connecting = null;
            _buffer.Drain();
        }
        if (wasConnected) session?.Send(SocketIOEncoder.Disconnect(Parser, Namespace));
        var reason = new SocketIODisconnectedException("io client disconnect");
        _acks.FailAll(reason);
        _retries?.FailAll(reason);
        waiter?.TrySetException(new SocketIOConnectException("the client disconnected before the connection was made", null, reason));
        if (wasConnected) RaiseDisconnected("io client disconnect");
        return Task.CompletedTask;
    }

    // ───────────────────────────── packets ─────────────────────────────

    internal void OnPacket(SocketIOPacket packet, EngineIOClientSession session)
    {
        switch (packet.Type)
        {
            case SocketIOPacketType.Connect:
                OnConnectPacket(packet, session);
                break;
            case SocketIOPacketType.ConnectError:
                OnConnectErrorPacket(packet, session);
                break;
            case SocketIOPacketType.Disconnect:
                OnDisconnectPacket(session);
                break;
            case SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent:
                var data = packet.Data!.Value;
                var first = data[0];
                string name = first.ValueKind == JsonValueKind.String ? first.GetString()! : first.GetRawText();
                var e = new SocketIOClientEvent(this, name, SocketIOArgs.From(data, 1, packet.ReceivedAttachments, JsonOptions), packet.Id);
                lock (_gate)
                {
                    if (!ReferenceEquals(_session, session)) return;
                    if (!_connected)
                    {
                        // A recovering server replays missed events before its CONNECT answer; they are
                        // handled once the connection is made, as the npm client does.
                        if (_received.Count < MaxEarlyEvents) _received.Add(e);
                        return;
                    }
                }
                DispatchEvent(e);
                break;
            case SocketIOPacketType.Ack or SocketIOPacketType.BinaryAck:
                if (packet.Id is long id) _acks.Complete(id, SocketIOArgs.From(packet.Data, 0, packet.ReceivedAttachments, JsonOptions));
                break;
        }
    }

    private void OnConnectPacket(SocketIOPacket packet, EngineIOClientSession session)
    {
        string? sid = null, pid = null;
        if (packet.Data is { ValueKind: JsonValueKind.Object } data)
        {
            if (data.TryGetProperty("sid", out var s) && s.ValueKind == JsonValueKind.String) sid = s.GetString();
            if (data.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.String) pid = p.GetString();
        }
        if (sid is null)
        {
            session.Close("parse error", new SocketIOProtocolException("the CONNECT answer has no sid"));
            return;
        }
        TaskCompletionSource? waiter;
        SocketIOClientEvent[] early;
        List<EnginePacket[]>? flushed = null;
        lock (_gate)
        {
            if (!_active || _connected || !ReferenceEquals(_session, session)) return;
            _connected = true;
            _id = sid;
            _recovered = pid is not null && pid == _pid;
            _pid = pid;
            if (!_recovered) _lastOffset = null;
            // What was emitted while disconnected goes out now, in order, before anything newer.
            bool listening = _events.HasOutgoing;
            foreach (var (packets, ackId) in _buffer.Drain())
            {
                session.Send(packets);
                if (ackId is long id) _acks.MarkSent(id);
                if (listening) (flushed ??= new()).Add(packets);
            }
            waiter = _connecting;
            _connecting = null;
            early = _received.ToArray();
            _received.Clear();
        }
        // Outgoing listeners hear of the buffered emits as they go out (as npm's do), outside the lock.
        if (flushed is not null)
            foreach (var packets in flushed) _events.NotifyOutgoing(packets, JsonOptions);
        foreach (var e in early) DispatchEvent(e);
        // The emit at the head of the retry queue goes out again on every connection (npm's drainQueue(true)).
        _retries?.Drain(force: true);
        Raise(Connected);
        waiter?.TrySetResult();
    }

    private void OnConnectErrorPacket(SocketIOPacket packet, EngineIOClientSession session)
    {
        string message = "connection refused";
        JsonElement? details = null;
        if (packet.Data is { } data)
        {
            if (data.ValueKind == JsonValueKind.String) message = data.GetString()!;
            else if (data.ValueKind == JsonValueKind.Object)
            {
                if (data.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) message = m.GetString()!;
                if (data.TryGetProperty("data", out var d)) details = d.Clone();
            }
        }
        if (FailConnect(new SocketIOConnectException(message, details), session)) _ = _client.ReleaseIfIdleAsync();
    }

    /// <summary>
    /// Ends a connect attempt that failed: the namespace goes inactive, buffered emits and pending acks
    /// fail, and the waiting ConnectAsync gets <paramref name="error"/>. With a <paramref name="session"/>,
    /// only if that session's attempt is still the current one. Returns whether it applied.
    /// </summary>
    private bool FailConnect(SocketIOConnectException error, EngineIOClientSession? session)
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            if (session is not null && (!ReferenceEquals(_session, session) || _connected)) return false;
            _active = false;
            _session = null;
            waiter = _connecting;
            _connecting = null;
            _buffer.Drain();
        }
        _acks.FailAll(error);
        RaiseConnectError(error);
        waiter?.TrySetException(error);
        return true;
    }

    private void OnDisconnectPacket(EngineIOClientSession session)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_session, session) || !_connected) return;
            _active = false;
            _connected = false;
            _id = null;
            _session = null;
        }
        _acks.FailAll(new SocketIODisconnectedException("io server disconnect"));
        RaiseDisconnected("io server disconnect");
        _ = _client.ReleaseIfIdleAsync();
    }

    private void DispatchEvent(SocketIOClientEvent e)
    {
        lock (_gate)
        {
            // With recovery on, the server appends its offset to every event (npm keeps the last one).
            if (_pid is not null && e.Args.Count > 0 && e.Args[^1].ValueKind == JsonValueKind.String)
                _lastOffset = e.Args[^1].GetString();
        }
        _events.Dispatch(e.Name, e);
    }

    private void Raise(Action? handlers)
    {
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action>())
        {
            try { handler(); }
            catch (Exception ex) { _client.Options.Logger?.LogError(ex, "Socket.IO client: a connect handler of {Namespace} failed", Namespace); }
        }
    }

    private void RaiseDisconnected(string reason)
    {
        if (Disconnected is not { } handlers) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action<string>>())
        {
            try { handler(reason); }
            catch (Exception ex) { _client.Options.Logger?.LogError(ex, "Socket.IO client: a disconnect handler of {Namespace} failed", Namespace); }
        }
    }

    internal void RaiseConnectError(SocketIOConnectException error)
    {
        lock (_gate) _lastFailure = error.Message;
        if (ConnectError is not { } handlers) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action<SocketIOConnectException>>())
        {
            try { handler(error); }
            catch (Exception ex) { _client.Options.Logger?.LogError(ex, "Socket.IO client: a connect_error handler of {Namespace} failed", Namespace); }
        }
    }

    // ───────────────────────────── emitting ─────────────────────────────

    /// <summary>
    /// Emits an event. Arguments are serialized as JSON; <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>
    /// travel as binary attachments. While disconnected the emit is buffered (up to
    /// <see cref="SocketIOClientOptions.MaxBufferedEmits"/>, else <see cref="InvalidOperationException"/>)
    /// and sent on connection. With <see cref="SocketIOClientOptions.Retries"/> the emit joins the retry
    /// queue instead and goes out with an acknowledgement id, sent again until the server acknowledges it
    /// (npm's behaviour: the server's handler must call its ack).
    /// </summary>
    public ValueTask EmitAsync(string eventName, params object?[] args)
    {
        if (_retries is not null)
        {
            Encode(eventName, args, null); // the argument checks, at the call
            _ = ObserveAsync(_retries.EnqueueAsync(eventName, args, null, CancellationToken.None), eventName);
            return ValueTask.CompletedTask;
        }
        Emit(eventName, args, isVolatile: false);
        return ValueTask.CompletedTask;
    }

    private async Task ObserveAsync(Task<SocketIOArgs> emit, string eventName)
    {
        try
        {
            await emit.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _client.Options.Logger?.LogWarning(ex, "Socket.IO client: \"{Event}\" on {Namespace} was never acknowledged", eventName, Namespace);
        }
    }

    /// <summary>
    /// Emits an event and waits for the server's acknowledgement. Never hangs across a disconnect:
    /// throws <see cref="SocketIODisconnectedException"/> when the connection the emit went out on
    /// ends. See <see cref="Timeout"/> for a deadline.
    /// </summary>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, params object?[] args) =>
        EmitWithAckCoreAsync(eventName, args, null, CancellationToken.None);

    /// <inheritdoc cref="EmitWithAckAsync(string, object?[])"/>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, object?[] args, CancellationToken cancellationToken) =>
        EmitWithAckCoreAsync(eventName, args, null, cancellationToken);

    /// <summary>As <see cref="EmitWithAckAsync(string, object?[])"/>, with the first answer read as <typeparamref name="T"/>.</summary>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, params object?[] args) =>
        (await EmitWithAckCoreAsync(eventName, args, null, CancellationToken.None).ConfigureAwait(false)).Get<T>(0);

    /// <inheritdoc cref="EmitWithAckAsync{T}(string, object?[])"/>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, object?[] args, CancellationToken cancellationToken) =>
        (await EmitWithAckCoreAsync(eventName, args, null, cancellationToken).ConfigureAwait(false)).Get<T>(0);

    /// <summary>An emitter whose acknowledgements must come within <paramref name="timeout"/> (else <see cref="TimeoutException"/>).</summary>
    public SocketIOClientAckEmitter Timeout(TimeSpan timeout) => new(this, timeout);

    /// <summary>An emitter whose events are dropped, not buffered, when the socket is not connected.</summary>
    public SocketIOClientVolatileEmitter Volatile => new(this);

    internal void Emit(string eventName, object?[] args, bool isVolatile)
    {
        var packets = Encode(eventName, args, null);
        lock (_gate)
        {
            if (!_connected || _session is not { IsOpen: true } session)
            {
                if (isVolatile) return;
                if (!_buffer.TryAdd(packets, null)) throw BufferFull();
                return; // its outgoing listeners hear of it when the buffer is flushed
            }
            if (!session.TrySend(packets))
            {
                if (!isVolatile) throw QueueFull(session);
                return; // a volatile emit the full queue dropped never went out
            }
        }
        _events.NotifyOutgoing(packets, JsonOptions);
    }

    internal Task<SocketIOArgs> EmitWithAckCoreAsync(string eventName, object?[] args, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (_retries is null) return EmitWithAckOnceAsync(eventName, args, timeout, cancellationToken);
        Encode(eventName, args, null); // the argument checks, at the call
        return _retries.EnqueueAsync(eventName, args, timeout, cancellationToken);
    }

    /// <summary>One attempt: the emit goes out (or into the send buffer) with a new ack id, and its answer is awaited.</summary>
    internal async Task<SocketIOArgs> EmitWithAckOnceAsync(string eventName, object?[] args, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var (id, answer) = _acks.Register();
        try
        {
            var packets = Encode(eventName, args, id);
            bool sent = false;
            lock (_gate)
            {
                if (_connected && _session is { IsOpen: true } session)
                {
                    if (!session.TrySend(packets)) throw QueueFull(session);
                    _acks.MarkSent(id);
                    sent = true;
                }
                else if (!_buffer.TryAdd(packets, id)) throw BufferFull();
            }
            if (sent) _events.NotifyOutgoing(packets, JsonOptions);
        }
        catch
        {
            _acks.Forget(id);
            throw;
        }
        timeout ??= _client.Options.AckTimeout;
        try
        {
            return timeout is { } limit
                ? await answer.WaitAsync(limit, cancellationToken).ConfigureAwait(false)
                : await answer.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // The answer will not be awaited any more; an emit still buffered need not go out either.
            _acks.Forget(id);
            lock (_gate) _buffer.RemoveAck(id);
            if (ex is TimeoutException) throw new TimeoutException($"no acknowledgement of \"{eventName}\" within {timeout!.Value.TotalMilliseconds:0} ms", ex);
            throw;
        }
    }

    private InvalidOperationException QueueFull(EngineIOClientSession session) =>
        new($"the connection's outgoing queue is full ({session.QueuedPackets} packets wait for the {session.Transport} transport; MaxQueuedPackets)");

    private InvalidOperationException BufferFull() =>
        new($"the send buffer of namespace {Namespace} is full ({_buffer.Capacity} emits wait for the connection)");

    private EnginePacket[] Encode(string eventName, object?[] args, long? ackId)
    {
        ArgumentNullException.ThrowIfNull(eventName);
        ReservedEventNames.ThrowIfReserved(eventName, nameof(eventName));
        args ??= [null];
        foreach (var arg in args)
            if (arg is CancellationToken)
                throw new ArgumentException("a CancellationToken is not an event argument: use the overload that takes args as an array and a token");
        return SocketIOEncoder.Event(Parser, Namespace, eventName, args, ackId, JsonOptions);
    }

    internal void SendAck(long id, object?[] args)
    {
        var packets = SocketIOEncoder.Ack(Parser, Namespace, id, args, JsonOptions);
        lock (_gate)
            if (_connected && _session is { } session) session.TrySend(packets); // full: dropped, the server's ack wait times out
    }
}

/// <summary>Emits with acknowledgements that must come within a deadline (<c>socket.Timeout(…)</c>).</summary>
public readonly struct SocketIOClientAckEmitter
{
    private readonly SocketIOClientSocket _socket;
    private readonly TimeSpan _timeout;

    internal SocketIOClientAckEmitter(SocketIOClientSocket socket, TimeSpan timeout)
    {
        _socket = socket;
        _timeout = timeout;
    }

    /// <summary>Emits and waits for the acknowledgement; <see cref="TimeoutException"/> when it does not come in time.</summary>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, params object?[] args) =>
        _socket.EmitWithAckCoreAsync(eventName, args, _timeout, CancellationToken.None);

    /// <inheritdoc cref="EmitWithAckAsync(string, object?[])"/>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, object?[] args, CancellationToken cancellationToken) =>
        _socket.EmitWithAckCoreAsync(eventName, args, _timeout, cancellationToken);

    /// <summary>As <see cref="EmitWithAckAsync(string, object?[])"/>, with the first answer read as <typeparamref name="T"/>.</summary>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, params object?[] args) =>
        (await _socket.EmitWithAckCoreAsync(eventName, args, _timeout, CancellationToken.None).ConfigureAwait(false)).Get<T>(0);

    /// <inheritdoc cref="EmitWithAckAsync{T}(string, object?[])"/>
    public async Task<T?> EmitWithAckAsync<T>(string eventName, object?[] args, CancellationToken cancellationToken) =>
        (await _socket.EmitWithAckCoreAsync(eventName, args, _timeout, cancellationToken).ConfigureAwait(false)).Get<T>(0);
}

/// <summary>Emits that are dropped rather than buffered while the socket is not connected (<c>socket.volatile</c>).</summary>
public readonly struct SocketIOClientVolatileEmitter
{
    private readonly SocketIOClientSocket _socket;

    internal SocketIOClientVolatileEmitter(SocketIOClientSocket socket) => _socket = socket;

    /// <summary>Emits the event now if connected; otherwise drops it.</summary>
    public ValueTask EmitAsync(string eventName, params object?[] args)
    {
        _socket.Emit(eventName, args, isVolatile: true);
        return ValueTask.CompletedTask;
    }
}
