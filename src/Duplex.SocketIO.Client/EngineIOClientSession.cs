using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Duplex.SocketIO.EngineIO;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Client;

/// <summary>
/// One Engine.IO v4 session seen from the client: the handshake (over polling or WebSocket), the
/// outgoing queue, the server's heartbeat, the close, and the transport in use
/// (<see cref="PollingClientTransport"/> or <see cref="WebSocketClientTransport"/>) with the upgrade
/// from the first to the second (<c>2probe</c>/<c>3probe</c>/<c>5</c>). A session is never reopened:
/// the <see cref="SocketIOClient"/> makes a new one for each connection attempt.
/// </summary>
/// <remarks>
/// Packets are handed to <c>onMessage</c> in order, from one loop at a time (the polling loop, then
/// after an upgrade the WebSocket loop). <c>onClose</c> is called once, with the reason the npm client
/// uses ("transport close", "transport error", "ping timeout", "parse error", "forced close").
/// </remarks>
internal sealed class EngineIOClientSession
{
    private readonly SocketIOClientOptions _options;
    private readonly HttpClient _http;
    private readonly Uri _baseUri;
    private readonly Action<EngineIOClientSession, EnginePacket> _onMessage;
    private readonly Action<EngineIOClientSession, string, Exception?> _onClose;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Channel<EnginePacket> _outgoing = Channel.CreateUnbounded<EnginePacket>(new UnboundedChannelOptions { SingleReader = true });
    // Held while a batch goes out, and while an upgrade swaps the transport: no POST during the switch.
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly Timer _heartbeat;
    // Null until the handshake connected one; swapped once, from _polling to a WebSocket, by an upgrade.
    private EngineIOClientTransport? _transport;
    private PollingClientTransport? _polling;
    private Task _writeLoop = Task.CompletedTask;
    private int _closed;

    private EngineIOClientSession(Uri baseUri, SocketIOClientOptions options, HttpClient http,
        Action<EngineIOClientSession, EnginePacket> onMessage, Action<EngineIOClientSession, string, Exception?> onClose)
    {
        _baseUri = baseUri;
        _options = options;
        _http = http;
        _onMessage = onMessage;
        _onClose = onClose;
        _heartbeat = new Timer(static s => ((EngineIOClientSession)s!).Close("ping timeout", null), this, Timeout.Infinite, Timeout.Infinite);
    }

    public string Id { get; private set; } = "";

    public TimeSpan PingInterval { get; private set; }

    public TimeSpan PingTimeout { get; private set; }

    public int MaxPayload { get; private set; }

    /// <summary>"polling" or "websocket": the transport packets travel on now.</summary>
    public string Transport => Volatile.Read(ref _transport) is WebSocketClientTransport ? "websocket" : "polling";

    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <summary>Completes when an upgrade to WebSocket finished (true) or will not happen (false).</summary>
    public Task<bool> Upgraded => _upgraded.Task;

    private readonly TaskCompletionSource<bool> _upgraded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Performs the handshake and starts the session. Throws <see cref="SocketIOProtocolException"/>
    /// when the server's answer is not an Engine.IO open packet, and the transport's own exception
    /// when the network fails. With <c>preferWebSocket</c> the session opens on WebSocket first
    /// (<see cref="SocketIOClientOptions.RememberUpgrade"/> after a WebSocket worked).
    /// </summary>
    public static async Task<EngineIOClientSession> OpenAsync(Uri baseUri, SocketIOClientOptions options, HttpClient http,
        Action<EngineIOClientSession, EnginePacket> onMessage, Action<EngineIOClientSession, string, Exception?> onClose,
        bool preferWebSocket, CancellationToken cancellationToken)
    {
        var session = new EngineIOClientSession(baseUri, options, http, onMessage, onClose);
        try
        {
            await session.HandshakeAsync(preferWebSocket, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            session.Teardown();
            throw;
        }
        return session;
    }

    /// <summary>The endpoint of <paramref name="transport"/> for this session (with its sid once it has one).</summary>
    internal Uri TransportUri(string transport)
    {
        var query = new StringBuilder("EIO=4&transport=").Append(transport);
        if (Id.Length > 0) query.Append("&sid=").Append(Uri.EscapeDataString(Id));
        foreach (var (key, value) in _options.Query)
            query.Append('&').Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
        var builder = new UriBuilder(_baseUri)
        {
            Path = _options.Path.EndsWith('/') ? _options.Path : _options.Path + "/",
            Query = query.ToString(),
        };
        if (transport == "websocket") builder.Scheme = _baseUri.Scheme == "https" ? "wss" : "ws";
        // UriBuilder keeps the default port explicit only when it differs from the scheme's.
        if (_baseUri.IsDefaultPort) builder.Port = -1;
        return builder.Uri;
    }

    internal SocketIOClientOptions Options => _options;

    /// <summary>Cancelled when the session ends: every transport's I/O stops with it.</summary>
    internal CancellationToken Lifetime => _lifetime.Token;

    /// <summary>
    /// The transports to open the session on, in order: <see cref="SocketIOClientOptions.Transports"/>, with
    /// "websocket" moved first when <paramref name="preferWebSocket"/>.
    /// </summary>
    internal static List<string> HandshakeOrder(SocketIOClientOptions options, bool preferWebSocket)
    {
        var order = options.Transports.Count > 0 ? options.Transports.Distinct().ToList() : ["polling"];
        if (preferWebSocket && order.Remove("websocket")) order.Insert(0, "websocket");
        return order;
    }

    private async Task HandshakeAsync(bool preferWebSocket, CancellationToken cancellationToken)
    {
        var order = HandshakeOrder(_options, preferWebSocket);
        List<EnginePacket> received;
        for (int i = 0; ; i++)
        {
            try
            {
                received = await OpenTransportAsync(order[i], cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (i + 1 < order.Count && !cancellationToken.IsCancellationRequested
                && (_options.TryAllTransports || ex is SocketIOProtocolException { TransportUnknown: true }))
            {
                // The next transport gets a fresh start: nothing of this attempt is kept.
                _options.Logger?.LogDebug(ex, "Socket.IO client: opening on {Transport} failed, trying {Next}", order[i], order[i + 1]);
                Volatile.Read(ref _transport)?.Release();
                _transport = _polling = null;
            }
        }
        ReadOpenPacket(received[0]);
        Debug.Assert(_transport is not null, "the handshake set the transport");

        // The server pings within pingInterval; it is dead when nothing came for pingInterval + pingTimeout.
        ResetHeartbeat();
        _writeLoop = Task.Run(WriteLoopAsync);
        foreach (var packet in received.Skip(1)) OnPacket(packet);
        _transport.Start();
        if (_polling is not null && _options.Upgrade && order.Contains("websocket") && _upgrades.Contains("websocket"))
            _ = Task.Run(UpgradeAsync);
        else
            _upgraded.TrySetResult(false);
    }

    private async Task<List<EnginePacket>> OpenTransportAsync(string name, CancellationToken cancellationToken)
    {
        if (name == "websocket")
        {
            var webSocket = await WebSocketClientTransport.ConnectAsync(this, cancellationToken).ConfigureAwait(false);
            _transport = webSocket;
            return [await webSocket.ReceiveOpenAsync(cancellationToken).ConfigureAwait(false)];
        }
        if (name == "polling")
        {
            _transport = _polling = new PollingClientTransport(this, _http);
            return await _polling.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        }
        throw new ArgumentException($"unknown transport \"{name}\": use \"polling\" or \"websocket\"");
    }

    private string[] _upgrades = [];

    private void ReadOpenPacket(EnginePacket open)
    {
        var handshake = ParseOpenPacket(open);
        Id = handshake.Sid;
        PingInterval = handshake.PingInterval;
        PingTimeout = handshake.PingTimeout;
        MaxPayload = handshake.MaxPayload;
        _upgrades = handshake.Upgrades;
    }

    /// <summary>What the client takes from the server's open packet.</summary>
    internal readonly record struct OpenHandshake(string Sid, TimeSpan PingInterval, TimeSpan PingTimeout, int MaxPayload, string[] Upgrades);

    /// <summary>
    /// The open packet's JSON: <c>sid</c>, <c>pingInterval</c> and <c>pingTimeout</c> (milliseconds, each at most
    /// 2^31-1, as a timer takes their sum), <c>maxPayload</c> and <c>upgrades</c>. Anything else throws
    /// <see cref="SocketIOProtocolException"/>.
    /// </summary>
    internal static OpenHandshake ParseOpenPacket(EnginePacket open)
    {
        if (open.Type != EnginePacketType.Open)
            throw new SocketIOProtocolException($"expected the Engine.IO open packet, got {Describe(open.ToString())}");
        OpenHandshake handshake;
        try
        {
            using var json = JsonDocument.Parse(open.Text!);
            var root = json.RootElement;
            var sid = root.GetProperty("sid").GetString() ?? throw new SocketIOProtocolException("the open packet has no sid");
            double interval = root.GetProperty("pingInterval").GetDouble();
            double timeout = root.GetProperty("pingTimeout").GetDouble();
            // The heartbeat timer waits interval + timeout; beyond what a timer takes is no usable value.
            if (interval is <= 0 or > int.MaxValue || timeout is <= 0 or > int.MaxValue)
                throw new SocketIOProtocolException($"the open packet has no usable pingInterval/pingTimeout: {Describe(open.Text!)}");
            int maxPayload = root.TryGetProperty("maxPayload", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out int m) && m > 0 ? m : 1_000_000;
            var upgrades = root.TryGetProperty("upgrades", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(u => u.GetString() ?? "").ToArray()
                : [];
            handshake = new(sid, TimeSpan.FromMilliseconds(interval), TimeSpan.FromMilliseconds(timeout), maxPayload, upgrades);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SocketIOProtocolException($"the open packet is malformed: {Describe(open.Text!)}", ex);
        }
        if (handshake.PingInterval <= TimeSpan.Zero || handshake.PingTimeout <= TimeSpan.Zero)
            throw new SocketIOProtocolException($"the open packet has no usable pingInterval/pingTimeout: {Describe(open.Text!)}");
        return handshake;
    }

    internal static string Describe(string text) => text.Length <= 80 ? $"\"{text}\"" : $"\"{text[..80]}…\" ({text.Length} chars)";

    private void ResetHeartbeat()
    {
        try
        {
            _heartbeat.Change(PingInterval + PingTimeout, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>A packet the current transport read from the server.</summary>
    internal void OnPacket(EnginePacket packet)
    {
        if (!IsOpen) return;
        switch (packet.Type)
        {
            case EnginePacketType.Ping:
                ResetHeartbeat();
                Send(EnginePacket.Create(EnginePacketType.Pong, packet.Text));
                break;
            case EnginePacketType.Close:
                Close("transport close", null);
                break;
            case EnginePacketType.Message:
                _onMessage(this, packet);
                break;
            // Open (again), Pong, Upgrade and Noop carry nothing for the client.
        }
    }

    // Packets in _outgoing, bounded for TrySend by MaxQueuedPackets; the transports count down as they take them.
    private int _queued;
    private readonly object _queueGate = new();

    /// <summary>Queues packets; they go out in order on the current transport. Not bounded: for what the session and sockets send themselves.</summary>
    public void Send(params EnginePacket[] packets)
    {
        lock (_queueGate)
        {
            Interlocked.Add(ref _queued, packets.Length);
            foreach (var packet in packets) _outgoing.Writer.TryWrite(packet);
        }
    }

    /// <summary>
    /// Queues packets kept together (all, or none) unless <see cref="SocketIOClientOptions.MaxQueuedPackets"/>
    /// would be passed: then false, and nothing is queued.
    /// </summary>
    public bool TrySend(EnginePacket[] packets)
    {
        lock (_queueGate)
        {
            if (Volatile.Read(ref _queued) + packets.Length > _options.MaxQueuedPackets) return false;
            Interlocked.Add(ref _queued, packets.Length);
            foreach (var packet in packets) _outgoing.Writer.TryWrite(packet);
        }
        return true;
    }

    /// <summary>Packets queued and not yet taken by a transport.</summary>
    internal int QueuedPackets => Volatile.Read(ref _queued);

    /// <summary>A transport took a packet from the queue.</summary>
    internal void OnDequeued() => Interlocked.Decrement(ref _queued);

    private async Task WriteLoopAsync()
    {
        var reader = _outgoing.Reader;
        var token = _lifetime.Token;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                await _sendGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    await Volatile.Read(ref _transport)!.SendQueuedAsync(reader, token).ConfigureAwait(false);
                }
                finally
                {
                    _sendGate.Release();
                }
            }
        }
        catch (Exception ex)
        {
            Close("transport error", ex);
        }
    }

    // ───────────────────────────── upgrade ─────────────────────────────

    private async Task UpgradeAsync()
    {
        Debug.Assert(_polling is not null && ReferenceEquals(_transport, _polling), "an upgrade starts from polling");
        WebSocketClientTransport? candidate = null;
        bool committed = false;
        try
        {
            // The timeout bounds the upgrade only: once the WebSocket carries the session, it is the heartbeat's.
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token))
            {
                timeout.CancelAfter(_options.UpgradeTimeout);
                candidate = await WebSocketClientTransport.ConnectAsync(this, timeout.Token).ConfigureAwait(false);
                using var abortOnTimeout = candidate.AbortOn(timeout.Token);
                await candidate.ProbeAsync(timeout.Token).ConfigureAwait(false);

                // Stop polling: no new GET once the pending one returns (the server flushes it with a noop),
                // no POST while the switch happens; then "5" moves the session to the WebSocket.
                committed = true;
                await _sendGate.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    await _polling!.PauseAsync().WaitAsync(timeout.Token).ConfigureAwait(false);
                    if (!IsOpen) throw new OperationCanceledException("the session closed during the upgrade");
                    await candidate.SendUpgradeAsync(timeout.Token).ConfigureAwait(false);
                    Debug.Assert(ReferenceEquals(_transport, _polling), "the transport is swapped once");
                    Volatile.Write(ref _transport, candidate);
                }
                finally
                {
                    _sendGate.Release();
                }
            }
            _upgraded.TrySetResult(true);
            candidate.Start();
        }
        catch (Exception ex)
        {
            _upgraded.TrySetResult(false);
            if (candidate is not null && ReferenceEquals(Volatile.Read(ref _transport), candidate)) return; // its loop reports
            candidate?.Abort();
            // Before the commit the session goes on polling; after it, polling has stopped and the
            // session cannot go on.
            if (committed) Close("transport error", ex);
        }
    }

    // ───────────────────────────── closing ─────────────────────────────

    /// <summary>
    /// Closes from this side ("forced close"): the close packet and anything queued before it go
    /// out first (bounded by <paramref name="flushTimeout"/>), then the transport is released.
    /// </summary>
    public async Task CloseAsync(TimeSpan flushTimeout)
    {
        if (!IsOpen) return;
        Send(EnginePacket.Create(EnginePacketType.Close));
        _outgoing.Writer.TryComplete();
        try
        {
            await _writeLoop.WaitAsync(flushTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        Close("forced close", null);
    }

    /// <summary>Ends the session at once with <paramref name="reason"/> (first call wins).</summary>
    public void Close(string reason, Exception? error)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        Teardown();
        _upgraded.TrySetResult(false);
        _onClose(this, reason, error);
    }

    private void Teardown()
    {
        Volatile.Write(ref _closed, 1);
        _heartbeat.Dispose();
        _outgoing.Writer.TryComplete();
        try
        {
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        // A WebSocket still being probed is not the transport yet: the upgrade aborts it on the cancel above.
        Volatile.Read(ref _transport)?.Release();
    }
}
