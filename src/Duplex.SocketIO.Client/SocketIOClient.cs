using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Client;

/// <summary>
/// A Socket.IO v5 client over Engine.IO v4, for Duplex and Node socket.io servers alike. It owns the
/// one Engine.IO connection (polling, upgraded to WebSocket, or WebSocket only) and its reconnection
/// (the npm client's <c>Manager</c>); each namespace is a <see cref="SocketIOClientSocket"/> on it
/// (<see cref="Of"/>). The main namespace's API is on the client itself.
/// </summary>
/// <example>
/// <code>
/// await using var client = new SocketIOClient(new Uri("http://127.0.0.1:3000"));
/// client.On&lt;string&gt;("message", text =&gt; Console.WriteLine(text));
/// await client.ConnectAsync(cancellationToken);
/// var reply = await client.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync&lt;string&gt;("echo", "hello");
/// </code>
/// </example>
public sealed class SocketIOClient : IAsyncDisposable
{
    private static readonly TimeSpan CloseFlushTimeout = TimeSpan.FromSeconds(2);

    private readonly object _gate = new();
    private readonly Dictionary<string, SocketIOClientSocket> _sockets = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _lifetime = new();
    private EngineIOClientSession? _session;
    private Task<EngineIOClientSession>? _opening;
    private Task? _reconnecting;
    private bool _closedByUser;
    // A WebSocket carried a session of this client (npm's priorWebsocketSuccess, kept per client here):
    // with RememberUpgrade, the next session opens on WebSocket first.
    private volatile bool _webSocketWorked;
    private bool _disposed;

    /// <summary>A client for the server at <paramref name="uri"/> (http://, https://, ws:// or wss://; the path is the server's, see <see cref="SocketIOClientOptions.Path"/>).</summary>
    public SocketIOClient(Uri uri, SocketIOClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        Uri = uri.Scheme switch
        {
            "http" or "https" => uri,
            "ws" => new UriBuilder(uri) { Scheme = "http", Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri,
            "wss" => new UriBuilder(uri) { Scheme = "https", Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri,
            _ => throw new ArgumentException($"Unsupported scheme '{uri.Scheme}': use http(s):// or ws(s)://.", nameof(uri)),
        };
        Options = options ?? new SocketIOClientOptions();
        var bytes = new BinaryPlaceholderConverter();
        JsonOptions = SocketIOJson.CreateOptions(Options.JsonSerializerOptions,
            bytes, new ReadOnlyMemoryPlaceholderConverter(bytes), new MemoryPlaceholderConverter(bytes));
        // A long poll is held by the server up to pingInterval; the heartbeat, not an HTTP timeout, bounds it.
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = Options.ConnectTimeout,
            UseCookies = true,
            CookieContainer = Options.Cookies,
            UseProxy = Options.UseProxy,
            Proxy = Options.Proxy,
        };
        Options.ConfigureHttpHandler?.Invoke(handler);
        _http = new HttpClient(handler)
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        Socket = Of("/", Options.Auth);
    }

    /// <summary>The server's address.</summary>
    public Uri Uri { get; }

    /// <summary>The options this client was made with.</summary>
    public SocketIOClientOptions Options { get; }

    internal JsonSerializerOptions JsonOptions { get; }

    /// <summary>The main namespace, "/".</summary>
    public SocketIOClientSocket Socket { get; }

    /// <summary>The namespace <paramref name="nsp"/> on this client's connection (created on first use; <paramref name="auth"/> applies then).</summary>
    public SocketIOClientSocket Of(string nsp, Func<CancellationToken, ValueTask<object?>>? auth = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(nsp);
        if (!nsp.StartsWith('/')) nsp = "/" + nsp;
        lock (_gate)
        {
            if (!_sockets.TryGetValue(nsp, out var socket)) _sockets[nsp] = socket = new SocketIOClientSocket(this, nsp, auth);
            return socket;
        }
    }

    /// <summary>"polling" or "websocket" while an Engine.IO connection is open; null otherwise.</summary>
    public string? Transport
    {
        get { lock (_gate) return _session is { IsOpen: true } s ? s.Transport : null; }
    }

    /// <summary>The Engine.IO session id while connected; null otherwise.</summary>
    public string? EngineId
    {
        get { lock (_gate) return _session is { IsOpen: true } s ? s.Id : null; }
    }

    /// <summary>Completes with true once the current connection has upgraded to WebSocket, false when it will not.</summary>
    public Task<bool> WaitForUpgradeAsync(CancellationToken cancellationToken = default)
    {
        EngineIOClientSession? session;
        lock (_gate) session = _session;
        return session is null ? Task.FromResult(false) : session.Upgraded.WaitAsync(cancellationToken);
    }

    /// <summary>Raised before each reconnection attempt, with its number (from 1).</summary>
    public event Action<int>? ReconnectAttempt;

    /// <summary>Raised when a reconnection attempt opened the connection, with the number of attempts it took.</summary>
    public event Action<int>? Reconnected;

    /// <summary>Raised when a reconnection attempt failed.</summary>
    public event Action<Exception>? ReconnectError;

    /// <summary>Raised when <see cref="SocketIOClientOptions.ReconnectionAttempts"/> attempts all failed.</summary>
    public event Action? ReconnectFailed;

    // ───────────────────────────── the main namespace ─────────────────────────────

    /// <inheritdoc cref="SocketIOClientSocket.Id"/>
    public string? Id => Socket.Id;

    /// <inheritdoc cref="SocketIOClientSocket.IsConnected"/>
    public bool IsConnected => Socket.IsConnected;

    /// <inheritdoc cref="SocketIOClientSocket.Recovered"/>
    public bool Recovered => Socket.Recovered;

    /// <inheritdoc cref="SocketIOClientSocket.Connected"/>
    public event Action? Connected
    {
        add => Socket.Connected += value;
        remove => Socket.Connected -= value;
    }

    /// <inheritdoc cref="SocketIOClientSocket.Disconnected"/>
    public event Action<string>? Disconnected
    {
        add => Socket.Disconnected += value;
        remove => Socket.Disconnected -= value;
    }

    /// <inheritdoc cref="SocketIOClientSocket.ConnectError"/>
    public event Action<SocketIOConnectException>? ConnectError
    {
        add => Socket.ConnectError += value;
        remove => Socket.ConnectError -= value;
    }

    /// <summary>Connects the main namespace "/" (see <see cref="SocketIOClientSocket.ConnectAsync"/>).</summary>
    public Task ConnectAsync(CancellationToken cancellationToken = default) => Socket.ConnectAsync(cancellationToken);

    /// <inheritdoc cref="SocketIOClientSocket.On(string, Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient On(string eventName, Func<SocketIOClientEvent, ValueTask> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.On(string, Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient On(string eventName, Action<SocketIOClientEvent> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.On{T}(string, Action{T})"/>
    public SocketIOClient On<T>(string eventName, Action<T?> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.On{T}(string, Action{T})"/>
    public SocketIOClient On<T>(string eventName, Func<T?, ValueTask> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.On{T, TResult}(string, Func{T, TResult})"/>
    public SocketIOClient On<T, TResult>(string eventName, Func<T?, TResult> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.On{T, TResult}(string, Func{T, ValueTask{TResult}})"/>
    public SocketIOClient On<T, TResult>(string eventName, Func<T?, ValueTask<TResult>> handler) { Socket.On(eventName, handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.Off"/>
    public SocketIOClient Off(string eventName) { Socket.Off(eventName); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OnAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient OnAny(Action<SocketIOClientEvent> handler) { Socket.OnAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OnAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient OnAny(Func<SocketIOClientEvent, ValueTask> handler) { Socket.OnAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.PrependAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient PrependAny(Func<SocketIOClientEvent, ValueTask> handler) { Socket.PrependAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.PrependAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient PrependAny(Action<SocketIOClientEvent> handler) { Socket.PrependAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OffAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient OffAny(Func<SocketIOClientEvent, ValueTask> handler) { Socket.OffAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OffAny(Func{SocketIOClientEvent, ValueTask})"/>
    public SocketIOClient OffAny(Action<SocketIOClientEvent> handler) { Socket.OffAny(handler); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OffAny()"/>
    public SocketIOClient OffAny() { Socket.OffAny(); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.ListenersAny"/>
    public IReadOnlyList<Delegate> ListenersAny() => Socket.ListenersAny();

    /// <inheritdoc cref="SocketIOClientSocket.OnAnyOutgoing"/>
    public SocketIOClient OnAnyOutgoing(Action<string, SocketIOArgs> listener) { Socket.OnAnyOutgoing(listener); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.PrependAnyOutgoing"/>
    public SocketIOClient PrependAnyOutgoing(Action<string, SocketIOArgs> listener) { Socket.PrependAnyOutgoing(listener); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OffAnyOutgoing(Action{string, SocketIOArgs})"/>
    public SocketIOClient OffAnyOutgoing(Action<string, SocketIOArgs> listener) { Socket.OffAnyOutgoing(listener); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.OffAnyOutgoing()"/>
    public SocketIOClient OffAnyOutgoing() { Socket.OffAnyOutgoing(); return this; }

    /// <inheritdoc cref="SocketIOClientSocket.ListenersAnyOutgoing"/>
    public IReadOnlyList<Action<string, SocketIOArgs>> ListenersAnyOutgoing() => Socket.ListenersAnyOutgoing();

    /// <inheritdoc cref="SocketIOClientSocket.EmitAsync"/>
    public ValueTask EmitAsync(string eventName, params object?[] args) => Socket.EmitAsync(eventName, args);

    /// <inheritdoc cref="SocketIOClientSocket.EmitWithAckAsync(string, object?[])"/>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, params object?[] args) => Socket.EmitWithAckAsync(eventName, args);

    /// <inheritdoc cref="SocketIOClientSocket.EmitWithAckAsync(string, object?[])"/>
    public Task<SocketIOArgs> EmitWithAckAsync(string eventName, object?[] args, CancellationToken cancellationToken) =>
        Socket.EmitWithAckAsync(eventName, args, cancellationToken);

    /// <inheritdoc cref="SocketIOClientSocket.EmitWithAckAsync{T}(string, object?[])"/>
    public Task<T?> EmitWithAckAsync<T>(string eventName, params object?[] args) => Socket.EmitWithAckAsync<T>(eventName, args);

    /// <inheritdoc cref="SocketIOClientSocket.EmitWithAckAsync{T}(string, object?[])"/>
    public Task<T?> EmitWithAckAsync<T>(string eventName, object?[] args, CancellationToken cancellationToken) =>
        Socket.EmitWithAckAsync<T>(eventName, args, cancellationToken);

    /// <inheritdoc cref="SocketIOClientSocket.Timeout"/>
    public SocketIOClientAckEmitter Timeout(TimeSpan timeout) => Socket.Timeout(timeout);

    /// <inheritdoc cref="SocketIOClientSocket.Volatile"/>
    public SocketIOClientVolatileEmitter Volatile => Socket.Volatile;

    // ───────────────────────────── the connection ─────────────────────────────

    /// <summary>The open Engine.IO session, opening one (shared by concurrent callers) when there is none.</summary>
    internal async Task<EngineIOClientSession> OpenSessionAsync(CancellationToken cancellationToken)
    {
        Task<EngineIOClientSession> opening;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _closedByUser = false;
            if (_session is { IsOpen: true } open) return open;
            // Task.Run: the opening must not complete inside this lock, where it clears _opening.
            opening = _opening ??= Task.Run(OpenCoreAsync);
        }
        return await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<EngineIOClientSession> OpenCoreAsync()
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            timeout.CancelAfter(Options.ConnectTimeout);
            var assembler = new PacketAssembler(Options.Parser);
            EngineIOClientSession session;
            bool preferWebSocket = Options.RememberUpgrade && _webSocketWorked;
            try
            {
                session = await EngineIOClientSession.OpenAsync(Uri, Options, _http,
                    (s, packet) => OnMessage(s, packet, assembler), OnSessionClosed, preferWebSocket, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
            {
                _webSocketWorked = false;
                throw new TimeoutException($"the Engine.IO handshake with {Uri} took longer than {Options.ConnectTimeout.TotalSeconds:0.###} s");
            }
            catch
            {
                // As npm: a failed attempt forgets the WebSocket's success, so the next starts from the usual order.
                _webSocketWorked = false;
                throw;
            }
            if (session.Transport == "websocket") _webSocketWorked = true;
            else _ = session.Upgraded.ContinueWith(static (upgraded, state) =>
            {
                if (upgraded.Result) ((SocketIOClient)state!)._webSocketWorked = true;
            }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            SocketIOClientSocket[] sockets;
            lock (_gate)
            {
                _opening = null;
                if (_disposed)
                {
                    session.Close("forced close", null);
                    throw new ObjectDisposedException(nameof(SocketIOClient));
                }
                _session = session;
                sockets = _sockets.Values.ToArray();
            }
            if (!session.IsOpen) throw new SocketIOProtocolException("the Engine.IO session closed as soon as it opened");
            foreach (var socket in sockets) socket.OnSessionOpen(session);
            return session;
        }
        catch
        {
            lock (_gate) _opening = null;
            throw;
        }
    }

    private void OnMessage(EngineIOClientSession session, EnginePacket message, PacketAssembler assembler)
    {
        if (!assembler.TryAdd(message, out var packet, out var error))
        {
            session.Close("parse error", new SocketIOProtocolException(error!));
            return;
        }
        if (packet is null) return;
        SocketIOClientSocket? socket;
        lock (_gate) _sockets.TryGetValue(packet.Namespace, out socket);
        socket?.OnPacket(packet, session);
    }

    private void OnSessionClosed(EngineIOClientSession session, string reason, Exception? error)
    {
        if (error is not null) Options.Logger?.LogDebug(error, "Socket.IO client: the connection to {Uri} closed ({Reason})", Uri, reason);
        SocketIOClientSocket[] sockets;
        bool userClosed;
        lock (_gate)
        {
            if (ReferenceEquals(_session, session)) _session = null;
            sockets = _sockets.Values.ToArray();
            userClosed = _closedByUser || _disposed;
        }
        // Every namespace hears of the loss before a new session can open.
        foreach (var socket in sockets) socket.OnSessionClosed(session, reason, error);
        if (userClosed) return;
        if (!Options.Reconnection)
        {
            var gaveUp = new SocketIOConnectException($"the connection to {Uri} closed ({reason}{(error is null ? "" : ": " + error.Message)}) and reconnection is off", null, error ?? new SocketIODisconnectedException(reason));
            foreach (var socket in sockets) socket.OnGaveUp(gaveUp, reason);
            return;
        }
        lock (_gate)
        {
            if (_reconnecting is not null || _closedByUser || _disposed || !sockets.Any(s => s.IsActive)) return;
            _reconnecting = Task.Run(ReconnectLoopAsync);
        }
    }

    private bool ShouldReconnect()
    {
        lock (_gate) return !_closedByUser && !_disposed && _sockets.Values.Any(s => s.IsActive);
    }

    private async Task ReconnectLoopAsync()
    {
        var backoff = new ReconnectBackoff(Options.ReconnectionDelay, Options.ReconnectionDelayMax, Options.RandomizationFactor);
        try
        {
            while (true)
            {
                if (!ShouldReconnect()) break;
                if (backoff.Attempts >= Options.ReconnectionAttempts)
                {
                    lock (_gate) _reconnecting = null;
                    Raise(ReconnectFailed);
                    var error = new SocketIOConnectException($"gave up reconnecting to {Uri} after {backoff.Attempts} attempts", null, new SocketIODisconnectedException("reconnect failed"));
                    foreach (var socket in SocketsSnapshot()) socket.OnGaveUp(error, "reconnect failed");
                    return;
                }
                await Task.Delay(backoff.Next(), _lifetime.Token).ConfigureAwait(false);
                if (!ShouldReconnect()) break;
                Raise(ReconnectAttempt, backoff.Attempts);
                try
                {
                    var session = await OpenSessionAsync(_lifetime.Token).ConfigureAwait(false);
                    bool done;
                    lock (_gate)
                    {
                        // A session that already closed again counts as a failed attempt: its close saw
                        // this loop still running and left the retrying to it.
                        done = session.IsOpen;
                        if (done) _reconnecting = null;
                    }
                    if (!done) throw new SocketIOProtocolException("the connection closed right after it opened");
                    Raise(Reconnected, backoff.Attempts);
                    await ReleaseIfIdleAsync().ConfigureAwait(false);
                    return;
                }
                catch (Exception ex) when (!_lifetime.IsCancellationRequested && ex is not ObjectDisposedException)
                {
                    Raise(ReconnectError, ex);
                    var error = new SocketIOConnectException($"reconnecting to {Uri} failed: {ex.Message}", null, ex);
                    foreach (var socket in SocketsSnapshot())
                        if (socket.IsActive) socket.RaiseConnectError(error);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }
        lock (_gate) _reconnecting = null;
    }

    private SocketIOClientSocket[] SocketsSnapshot()
    {
        lock (_gate) return _sockets.Values.ToArray();
    }

    /// <summary>Closes the Engine.IO connection when no namespace wants it any more (as the npm Manager does).</summary>
    internal async Task ReleaseIfIdleAsync()
    {
        EngineIOClientSession? session;
        lock (_gate)
        {
            if (_sockets.Values.Any(s => s.IsActive)) return;
            _closedByUser = true;
            session = _session;
        }
        if (session is not null) await session.CloseAsync(CloseFlushTimeout).ConfigureAwait(false);
    }

    /// <summary>
    /// Disconnects every namespace ("io client disconnect") and closes the connection; no reconnection
    /// follows. <see cref="ConnectAsync"/> may be called again later.
    /// </summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate) _closedByUser = true;
        foreach (var socket in SocketsSnapshot()) await socket.DisconnectCoreAsync().ConfigureAwait(false);
        await ReleaseIfIdleAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disconnects (see <see cref="DisconnectAsync"/>) and releases the client's resources.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
        }
        try
        {
            await DisconnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Options.Logger?.LogDebug(ex, "Socket.IO client: disconnecting on dispose failed");
        }
        Task? reconnecting;
        EngineIOClientSession? session;
        lock (_gate)
        {
            _disposed = true;
            reconnecting = _reconnecting;
            session = _session;
        }
        _lifetime.Cancel();
        session?.Close("forced close", null);
        if (reconnecting is not null)
        {
            try
            {
                await reconnecting.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }
        _http.Dispose();
        _lifetime.Dispose();
    }

    private void Raise(Action? handlers)
    {
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action>())
        {
            try { handler(); }
            catch (Exception ex) { Options.Logger?.LogError(ex, "Socket.IO client: an event handler failed"); }
        }
    }

    private void Raise<T>(Action<T>? handlers, T value)
    {
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Action<T>>())
        {
            try { handler(value); }
            catch (Exception ex) { Options.Logger?.LogError(ex, "Socket.IO client: an event handler failed"); }
        }
    }
}
