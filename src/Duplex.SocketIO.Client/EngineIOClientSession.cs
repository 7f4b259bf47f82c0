using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// One Engine.IO v4 session seen from the client: the handshake (over polling or WebSocket), the
/// polling loops, the upgrade to WebSocket (<c>2probe</c>/<c>3probe</c>/<c>5</c>), the server's
/// heartbeat, and the close. A session is never reopened: the <see cref="SocketIOClient"/> makes a
/// new one for each connection attempt.
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
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly Timer _heartbeat;
    private WebSocketConnection? _webSocket;
    private IAsyncEnumerator<WebSocketMessage>? _webSocketReader;
    private volatile bool _pausePolling;
    private Task _pollLoop = Task.CompletedTask;
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
    public string Transport => Volatile.Read(ref _webSocket) is null ? "polling" : "websocket";

    public bool IsOpen => Volatile.Read(ref _closed) == 0;

    /// <summary>Completes when an upgrade to WebSocket finished (true) or will not happen (false).</summary>
    public Task<bool> Upgraded => _upgraded.Task;

    private readonly TaskCompletionSource<bool> _upgraded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Performs the handshake and starts the session. Throws <see cref="SocketIOProtocolException"/>
    /// when the server's answer is not an Engine.IO open packet, and the transport's own exception
    /// when the network fails.
    /// </summary>
    public static async Task<EngineIOClientSession> OpenAsync(Uri baseUri, SocketIOClientOptions options, HttpClient http,
        Action<EngineIOClientSession, EnginePacket> onMessage, Action<EngineIOClientSession, string, Exception?> onClose,
        CancellationToken cancellationToken)
    {
        var session = new EngineIOClientSession(baseUri, options, http, onMessage, onClose);
        try
        {
            await session.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            session.Teardown();
            throw;
        }
        return session;
    }

    private Uri BuildUri(string transport, bool webSocket)
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
        if (webSocket) builder.Scheme = _baseUri.Scheme == "https" ? "wss" : "ws";
        // UriBuilder keeps the default port explicit only when it differs from the scheme's.
        if (_baseUri.IsDefaultPort) builder.Port = -1;
        return builder.Uri;
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        string first = _options.Transports.Count > 0 ? _options.Transports[0] : "polling";
        List<EnginePacket> rest;
        EnginePacket open;
        if (first == "websocket")
        {
            var ws = await ConnectWebSocketAsync(cancellationToken).ConfigureAwait(false);
            _webSocket = ws;
            _webSocketReader = ws.ReadMessagesAsync(_lifetime.Token).GetAsyncEnumerator(_lifetime.Token);
            using var reg = cancellationToken.Register(static s => ((WebSocketConnection)s!).Abort(), ws);
            if (!await _webSocketReader.MoveNextAsync().ConfigureAwait(false))
                throw new SocketIOProtocolException("the server closed the WebSocket before the Engine.IO open packet");
            var message = _webSocketReader.Current;
            if (!message.IsText || !EnginePacket.TryParse(message.Text, out open))
                throw new SocketIOProtocolException($"the server's first WebSocket message is not an Engine.IO packet: {Describe(message.IsText ? message.Text : "<binary>")}");
            rest = [];
        }
        else if (first == "polling")
        {
            using var response = await _http.SendAsync(NewRequest(HttpMethod.Get), HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
                throw new SocketIOProtocolException($"the handshake was answered HTTP {(int)response.StatusCode}: {Describe(body)}");
            if (!EnginePayload.TryDecode(body, out var packets))
                throw new SocketIOProtocolException($"the handshake answer is not an Engine.IO payload: {Describe(body)}");
            open = packets[0];
            rest = packets.Skip(1).ToList();
        }
        else
        {
            throw new ArgumentException($"unknown transport \"{first}\": use \"polling\" or \"websocket\"");
        }
        ReadOpenPacket(open);

        // The server pings within pingInterval; it is dead when nothing came for pingInterval + pingTimeout.
        ResetHeartbeat();
        _writeLoop = Task.Run(WriteLoopAsync);
        foreach (var packet in rest) Handle(packet);
        if (_webSocket is not null)
        {
            _upgraded.TrySetResult(false);
            _ = Task.Run(() => WebSocketLoopAsync(_webSocket, _webSocketReader!));
        }
        else
        {
            _pollLoop = Task.Run(PollLoopAsync);
            if (_options.Upgrade && _options.Transports.Contains("websocket") && _upgrades.Contains("websocket"))
                _ = Task.Run(UpgradeAsync);
            else
                _upgraded.TrySetResult(false);
        }
    }

    private string[] _upgrades = [];

    private void ReadOpenPacket(EnginePacket open)
    {
        if (open.Type != EnginePacketType.Open)
            throw new SocketIOProtocolException($"expected the Engine.IO open packet, got {Describe(open.ToString())}");
        try
        {
            using var json = JsonDocument.Parse(open.Text!);
            var root = json.RootElement;
            Id = root.GetProperty("sid").GetString() ?? throw new SocketIOProtocolException("the open packet has no sid");
            PingInterval = TimeSpan.FromMilliseconds(root.GetProperty("pingInterval").GetDouble());
            PingTimeout = TimeSpan.FromMilliseconds(root.GetProperty("pingTimeout").GetDouble());
            MaxPayload = root.TryGetProperty("maxPayload", out var max) && max.TryGetInt32(out int m) && m > 0 ? m : 1_000_000;
            _upgrades = root.TryGetProperty("upgrades", out var upgrades) && upgrades.ValueKind == JsonValueKind.Array
                ? upgrades.EnumerateArray().Select(u => u.GetString() ?? "").ToArray()
                : [];
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SocketIOProtocolException($"the open packet is malformed: {Describe(open.Text!)}", ex);
        }
        if (PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero)
            throw new SocketIOProtocolException($"the open packet has no usable pingInterval/pingTimeout: {Describe(open.Text!)}");
    }

    private static string Describe(string text) => text.Length <= 80 ? $"\"{text}\"" : $"\"{text[..80]}…\" ({text.Length} chars)";

    private HttpRequestMessage NewRequest(HttpMethod method, string? body = null)
    {
        var request = new HttpRequestMessage(method, BuildUri("polling", webSocket: false));
        foreach (var (name, value) in _options.ExtraHeaders) request.Headers.TryAddWithoutValidation(name, value);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        return request;
    }

    private async Task<WebSocketConnection> ConnectWebSocketAsync(CancellationToken cancellationToken)
    {
        var options = new WebSocketClientOptions { ConnectTimeout = _options.ConnectTimeout, Logger = _options.Logger };
        // Engine.IO has its own heartbeat; the WebSocket one would only duplicate it.
        options.Connection.KeepAliveInterval = TimeSpan.Zero;
        foreach (var (name, value) in _options.ExtraHeaders) options.AddHeader(name, value);
        _options.ConfigureWebSocket?.Invoke(options);
        return await WebSocketClient.ConnectAsync(BuildUri("websocket", webSocket: true), options, cancellationToken).ConfigureAwait(false);
    }

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

    private void Handle(EnginePacket packet)
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

    /// <summary>Queues packets; they go out in order on the current transport.</summary>
    public void Send(params EnginePacket[] packets)
    {
        foreach (var packet in packets) _outgoing.Writer.TryWrite(packet);
    }

    // ───────────────────────────── polling ─────────────────────────────

    private async Task PollLoopAsync()
    {
        var token = _lifetime.Token;
        while (!_pausePolling && IsOpen)
        {
            string body;
            try
            {
                using var response = await _http.SendAsync(NewRequest(HttpMethod.Get), HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
                body = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Close("transport error", new SocketIOProtocolException($"a poll was answered HTTP {(int)response.StatusCode}: {Describe(body)}"));
                    return;
                }
            }
            catch (Exception ex)
            {
                Close("transport error", ex);
                return;
            }
            if (!EnginePayload.TryDecode(body, out var packets))
            {
                Close("parse error", new SocketIOProtocolException($"a poll returned something that is not an Engine.IO payload: {Describe(body)}"));
                return;
            }
            foreach (var packet in packets) Handle(packet);
        }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _outgoing.Reader;
        var token = _lifetime.Token;
        var batch = new List<EnginePacket>();
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                await _sendGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    if (Volatile.Read(ref _webSocket) is { } ws)
                    {
                        while (reader.TryRead(out var packet))
                        {
                            if (packet.Binary is { } bytes) await ws.SendBinaryAsync(bytes, token).ConfigureAwait(false);
                            else await ws.SendTextAsync(packet.ToPollingText(), token).ConfigureAwait(false);
                        }
                    }
                    else
                    {
                        // One POST carries what is queued, up to the server's maxPayload.
                        batch.Clear();
                        long size = 0;
                        while (reader.TryPeek(out var next))
                        {
                            long length = next.ToPollingText().Length + 1;
                            if (batch.Count > 0 && size + length > MaxPayload) break;
                            reader.TryRead(out _);
                            batch.Add(next);
                            size += length;
                        }
                        using var response = await _http.SendAsync(NewRequest(HttpMethod.Post, EnginePayload.Encode(batch)), token).ConfigureAwait(false);
                        if (response.StatusCode != HttpStatusCode.OK)
                        {
                            string body = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
                            Close("transport error", new SocketIOProtocolException($"a POST was answered HTTP {(int)response.StatusCode}: {Describe(body)}"));
                            return;
                        }
                    }
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
        WebSocketConnection? ws = null;
        IAsyncEnumerator<WebSocketMessage>? messages = null;
        bool committed = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            timeout.CancelAfter(_options.UpgradeTimeout);
            ws = await ConnectWebSocketAsync(timeout.Token).ConfigureAwait(false);
            using var abortOnTimeout = timeout.Token.Register(static s => ((WebSocketConnection)s!).Abort(), ws);
            messages = ws.ReadMessagesAsync(_lifetime.Token).GetAsyncEnumerator(_lifetime.Token);
            await ws.SendTextAsync("2probe", timeout.Token).ConfigureAwait(false);
            if (!await messages.MoveNextAsync().ConfigureAwait(false) || !messages.Current.IsText || messages.Current.Text != "3probe")
                throw new SocketIOProtocolException("the server did not answer the WebSocket probe with 3probe");

            // Stop polling: no new GET once the pending one returns (the server flushes it with a noop),
            // no POST while the switch happens; then "5" moves the session to the WebSocket.
            committed = true;
            _pausePolling = true;
            await _sendGate.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                await _pollLoop.WaitAsync(timeout.Token).ConfigureAwait(false);
                if (!IsOpen) throw new OperationCanceledException("the session closed during the upgrade");
                await ws.SendTextAsync("5", timeout.Token).ConfigureAwait(false);
                Volatile.Write(ref _webSocket, ws);
                _webSocketReader = messages;
            }
            finally
            {
                _sendGate.Release();
            }
            _upgraded.TrySetResult(true);
            await WebSocketLoopAsync(ws, messages).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _upgraded.TrySetResult(false);
            if (ReferenceEquals(Volatile.Read(ref _webSocket), ws) && ws is not null) return; // the loop already reported
            ws?.Abort();
            // Before the commit the session goes on polling; after it, polling has stopped and the
            // session cannot go on.
            if (committed) Close("transport error", ex);
        }
    }

    private async Task WebSocketLoopAsync(WebSocketConnection ws, IAsyncEnumerator<WebSocketMessage> messages)
    {
        try
        {
            while (await messages.MoveNextAsync().ConfigureAwait(false))
            {
                var message = messages.Current;
                EnginePacket packet;
                if (message.IsText)
                {
                    if (!EnginePacket.TryParse(message.Text, out packet))
                    {
                        Close("parse error", new SocketIOProtocolException($"a WebSocket message is not an Engine.IO packet: {Describe(message.Text)}"));
                        return;
                    }
                }
                else
                {
                    packet = EnginePacket.Message(message.ToArray());
                }
                Handle(packet);
            }
            Close("transport close", null);
        }
        catch (Exception ex)
        {
            Close("transport error", ex);
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
        if (Volatile.Read(ref _webSocket) is { } ws)
        {
            // A polite close when we can; the read loop's end does not wait for it.
            _ = ws.DisposeAsync().AsTask().ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }
}
