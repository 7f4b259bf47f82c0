using System.Text.Json;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO;

/// <summary>
/// One client's Engine.IO session seen from Socket.IO: reassembles binary packets from their
/// attachments, routes packets to the client's sockets (one per namespace), and connects new ones.
/// </summary>
internal sealed class SocketIOConnection
{
    private readonly SocketIOServer _server;
    private readonly Dictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private readonly HashSet<string> _connecting = new(StringComparer.Ordinal);
    private SocketIOPacket? _partial;
    private Timer? _connectTimeout;
    private bool _closed; // the engine closed; guarded by _sockets, as the sockets are

    public SocketIOConnection(SocketIOServer server, EngineIOSession engine)
    {
        _server = server;
        Engine = engine;
        engine.Message += (_, packet) => OnMessage(packet);
        engine.Closed += (_, reason) => OnEngineClosed(reason);
        _connectTimeout = new Timer(static s =>
        {
            var connection = (SocketIOConnection)s!;
            bool none;
            lock (connection._sockets) none = connection._sockets.Count == 0;
            if (none) connection.Engine.Close();
        }, this, server.Options.ConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    public EngineIOSession Engine { get; }

    /// <summary>
    /// Tests only: called on the connecting task just before a new socket is published
    /// (<see cref="ConnectStep.Publishing"/>) and just after (<see cref="ConnectStep.Published"/>), so a test
    /// can close the engine inside the window a concurrent close would hit.
    /// </summary>
    internal Action<ConnectStep>? ConnectStepHook { get; set; }

    internal enum ConnectStep { Publishing, Published }

    private void OnMessage(EnginePacket message)
    {
        if (!_server.Parser.TryDecode(message, ref _partial, out var packet, out var error))
        {
            _server.Logger.LogDebug("Socket.IO connection {Sid}: malformed packet ({Error})", Engine.Id, error);
            Engine.Close(EngineCloseReason.ParseError, graceful: false);
            return;
        }
        if (packet is not null) Route(packet);
    }

    private void Route(SocketIOPacket packet)
    {
        SocketIOSocket? socket;
        lock (_sockets)
        {
            _sockets.TryGetValue(packet.Namespace, out socket);
            if (packet.Type == SocketIOPacketType.Connect && socket is null && !_connecting.Add(packet.Namespace)) return;
        }
        if (packet.Type == SocketIOPacketType.Connect)
        {
            if (socket is null) _ = ConnectAsync(packet.Namespace, packet.Data);
            return;
        }
        socket?.OnPacket(packet);
    }

    internal async Task ConnectAsync(string name, JsonElement? auth)
    {
        try
        {
            var ns = _server.Lookup(name);
            if (ns is null)
            {
                Engine.Send(SocketIOEncoder.ConnectError(_server.Parser, name, "Invalid namespace", null, _server.JsonOptions));
                return;
            }
            try
            {
                await ConnectAsync(ns, name, auth).ConfigureAwait(false);
            }
            finally
            {
                ns.ReleaseConnect();
            }
        }
        finally
        {
            lock (_sockets) _connecting.Remove(name);
        }
    }

    private async Task ConnectAsync(SocketIONamespace ns, string name, JsonElement? auth)
    {
        var restored = await RestoreAsync(ns, auth).ConfigureAwait(false);
        var socket = new SocketIOSocket(ns, this, new SocketIOHandshake(Engine, auth, _server.JsonOptions), restored?.Session);
        bool skipMiddleware = restored is not null && _server.ConnectionStateRecovery is { SkipMiddlewares: true };
        foreach (var middleware in skipMiddleware ? [] : ns.Middleware)
        {
            try
            {
                await middleware(socket).ConfigureAwait(false);
            }
            catch (SocketIOConnectRefusedException refused)
            {
                Engine.Send(SocketIOEncoder.ConnectError(_server.Parser, name, refused.Message, refused.ErrorData, _server.JsonOptions));
                return;
            }
            catch (Exception ex)
            {
                _server.Logger.LogError(ex, "Socket.IO middleware of {Namespace} failed", name);
                Engine.Send(SocketIOEncoder.ConnectError(_server.Parser, name, "Internal server error", null, _server.JsonOptions));
                return;
            }
        }
        if (!Engine.IsOpen) return;
        ConnectStepHook?.Invoke(ConnectStep.Publishing);
        // The engine can close on another thread at any point here. Its close handler snapshots the
        // sockets under this lock after setting _closed, and closes only those already connected; so
        // the socket is published and then marked connected under the same lock, each time checking
        // _closed, and one the close handler cannot have seen is cleaned up here instead. As the
        // reference does when the transport is gone once middleware has run (namespace.ts: "next
        // called after client was closed"), that socket never connected: no "connection", no "disconnect".
        lock (_sockets)
        {
            if (_closed) return;
            _sockets[name] = socket;
            _connectTimeout?.Dispose();
            _connectTimeout = null;
        }
        ConnectStepHook?.Invoke(ConnectStep.Published);
        ns.Add(socket);
        if (restored is not null) socket.Join([.. restored.Session.Rooms]);
        bool closed;
        lock (_sockets)
        {
            closed = _closed;
            if (!closed) socket.MarkConnected();
        }
        if (closed)
        {
            socket.Discard();
            return;
        }
        Engine.Send(ConnectAnswer(_server.Parser, name, socket.Id, socket.Pid));
        if (restored is not null)
            foreach (var missed in restored.MissedPackets) socket.SendPackets(missed.EncodedWith(_server.Parser));
        foreach (var handler in ns.ConnectionHandlers)
        {
            try
            {
                await handler(socket).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _server.Logger.LogError(ex, "Socket.IO connection handler of {Namespace} failed", name);
            }
        }
    }

    /// <summary>The CONNECT answer admitting socket <paramref name="sid"/>, with its private id when recovery is on.</summary>
    internal static EnginePacket[] ConnectAnswer(SocketIOParser parser, string nsp, string sid, string? pid) => SocketIOEncoder.Connect(parser, nsp, sid, pid);

    /// <summary>Connection state recovery: the session a CONNECT's <c>{pid, offset}</c> names, when it can come back.</summary>
    private async Task<Adapters.RestoredSession?> RestoreAsync(SocketIONamespace ns, JsonElement? auth)
    {
        if (_server.ConnectionStateRecovery is null || auth is not { ValueKind: JsonValueKind.Object } a) return null;
        if (!a.TryGetProperty("pid", out var pid) || pid.ValueKind != JsonValueKind.String
            || !a.TryGetProperty("offset", out var offset) || offset.ValueKind != JsonValueKind.String) return null;
        try
        {
            return await ns.Adapter.RestoreSessionAsync(pid.GetString()!, offset.GetString()!).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _server.Logger.LogWarning(ex, "Socket.IO {Namespace}: session not restored", ns.Name);
            return null;
        }
    }

    internal void Remove(SocketIOSocket socket)
    {
        lock (_sockets)
            if (_sockets.TryGetValue(socket.Namespace.Name, out var current) && current == socket) _sockets.Remove(socket.Namespace.Name);
    }

    /// <summary>Disconnects every namespace of this client, then closes the connection (<c>socket.disconnect(true)</c>).</summary>
    internal void DisconnectAll()
    {
        SocketIOSocket[] sockets;
        lock (_sockets) sockets = _sockets.Values.ToArray();
        foreach (var socket in sockets) socket.Disconnect();
        Engine.Close();
    }

    private void OnEngineClosed(string reason)
    {
        SocketIOSocket[] sockets;
        lock (_sockets)
        {
            _closed = true;
            sockets = _sockets.Values.ToArray();
            _connectTimeout?.Dispose();
            _connectTimeout = null;
        }
        foreach (var socket in sockets) socket.OnClose(reason);
    }
}
