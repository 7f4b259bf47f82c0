using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// One Engine.IO session: a send buffer that outlives transports, the heartbeat, and the transport
/// in use — HTTP long-polling (one pending GET, one POST at a time) or a WebSocket — with the
/// upgrade from the first to the second (<c>2probe</c> / <c>3probe</c> / <c>5</c>, the pending poll
/// flushed with <c>6</c>). Packets go out in the order they were sent, whatever the transport.
/// </summary>
public sealed class EngineIOSession
{
    private enum SessionState { Open, Closing, Closed }

    private readonly EngineIOServer _server;
    private readonly EngineIOOptions _options;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private List<EnginePacket> _buffer = new(); // swapped with the WebSocket writer's batch, under _gate
    private SessionState _state;

    // Polling: whether a GET is in hand, and the signal it waits on while there is nothing to send.
    private bool _pollActive;
    private TaskCompletionSource? _pollWake;
    private bool _postActive;

    // WebSocket: the connection once it is the transport, and the signal its writer waits on.
    private WebSocketConnection? _socket;
    private TaskCompletionSource? _writerWake;
    private bool _upgrading;
    private CancellationTokenSource? _upgradeCancel;

    private static readonly TimeSpan WriteAlonePause = TimeSpan.FromMilliseconds(1);
    private readonly Timer _pingTimer;
    private readonly Timer _pongTimer;
    private Timer? _closeDeliveryTimer;
    private string? _closeReason;
    private bool _discarded;

    internal EngineIOSession(EngineIOServer server, string id, HttpContext handshake, WebSocketConnection? socket)
    {
        _server = server;
        _options = server.Options;
        _logger = server.Logger;
        Id = id;
        _socket = socket;
        var request = handshake.Request;
        RequestHeaders = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        RemoteAddress = handshake.Connection.RemoteIpAddress;
        Url = request.Path + request.QueryString;
        IsSecure = request.IsHttps;
        User = handshake.User;
        CreatedAt = DateTimeOffset.UtcNow;
        _pingTimer = new Timer(static s => ((EngineIOSession)s!).OnPingDue(), this, Timeout.Infinite, Timeout.Infinite);
        _pongTimer = new Timer(static s => ((EngineIOSession)s!).Close(EngineCloseReason.PingTimeout, graceful: false), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The session id, the <c>sid</c> of the open packet and of the client's later requests: 20 random base64url characters.</summary>
    public string Id { get; }

    /// <summary>"polling" or "websocket": the transport packets go over now.</summary>
    public string Transport => Volatile.Read(ref _socket) is null ? "polling" : "websocket";

    /// <summary>True once the session moved from polling to WebSocket.</summary>
    public bool Upgraded { get; private set; }

    /// <summary>The handshake request's headers: names lower-case (looked up case-insensitively), repeated values joined by commas.</summary>
    public IReadOnlyDictionary<string, string> RequestHeaders { get; }
    /// <summary>The handshake request's query parameters, <c>EIO</c> and <c>transport</c> included: names case-sensitive, repeated values joined by commas.</summary>
    public IReadOnlyDictionary<string, string> Query { get; }
    /// <summary>
    /// The client's IP address as ASP.NET Core saw the handshake (behind a proxy, the proxy's, unless the
    /// forwarded-headers middleware runs first); null when unknown.
    /// </summary>
    public IPAddress? RemoteAddress { get; }
    /// <summary>The handshake request's path and query string, e.g. <c>/socket.io/?EIO=4&amp;transport=polling</c>.</summary>
    public string Url { get; }
    /// <summary>True when the handshake came over HTTPS (or WSS).</summary>
    public bool IsSecure { get; }
    /// <summary>The user ASP.NET Core's authentication set on the handshake request (its <c>HttpContext.User</c>).</summary>
    public ClaimsPrincipal? User { get; }
    /// <summary>When the session was made, at its handshake (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>True until the session closes (<see cref="Closed"/>); after that <see cref="Send(EnginePacket)"/> queues nothing.</summary>
    public bool IsOpen => _state == SessionState.Open;

    /// <summary>True when a packet sent now would go out at once (a poll is waiting, or the WebSocket is the transport).</summary>
    public bool IsWritable
    {
        get
        {
            lock (_gate) return _state == SessionState.Open && (_socket is not null || _pollWake is not null);
        }
    }

    /// <summary>Raised for each message packet, in arrival order, on the transport's reading task.</summary>
    public event Action<EngineIOSession, EnginePacket>? Message;

    /// <summary>Raised once when the session ends, with the reason (see <see cref="EngineCloseReason"/>).</summary>
    public event Action<EngineIOSession, string>? Closed;

    internal string OpenPacketJson(bool polling)
    {
        var upgrades = polling && _options.AllowUpgrades && _options.Transports.Contains("websocket") ? "[\"websocket\"]" : "[]";
        return $"{{\"sid\":\"{Id}\",\"upgrades\":{upgrades},\"pingInterval\":{(long)_options.PingInterval.TotalMilliseconds},\"pingTimeout\":{(long)_options.PingTimeout.TotalMilliseconds},\"maxPayload\":{_options.MaxHttpBufferSize}}}";
    }

    internal void Start()
    {
        Send(EnginePacket.Create(EnginePacketType.Open, OpenPacketJson(polling: _socket is null)));
        _pingTimer.Change(_options.PingInterval, Timeout.InfiniteTimeSpan);
    }

    // ───────────────────────────── sending ─────────────────────────────

    /// <summary>Queues packets (kept together, in order). False when the session is no longer open.</summary>
    public bool Send(EnginePacket packet)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_state != SessionState.Open) return false;
            _buffer.Add(packet);
            wake = TakeWakeLocked();
        }
        wake?.TrySetResult();
        return true;
    }

    /// <inheritdoc cref="Send(EnginePacket)"/>
    public bool Send(IReadOnlyList<EnginePacket> packets)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_state != SessionState.Open) return false;
            _buffer.AddRange(packets);
            wake = TakeWakeLocked();
        }
        wake?.TrySetResult();
        return true;
    }

    private TaskCompletionSource? TakeWakeLocked()
    {
        TaskCompletionSource? wake;
        if (_socket is not null)
        {
            wake = _writerWake;
            _writerWake = null;
        }
        else
        {
            wake = _pollWake;
            _pollWake = null;
        }
        return wake;
    }

    // ───────────────────────────── heartbeat ─────────────────────────────

    private void OnPingDue()
    {
        if (!Send(EnginePacket.PingPacket)) return;
        _pongTimer.Change(_options.PingTimeout, Timeout.InfiniteTimeSpan);
    }

    private void OnPacket(EnginePacket packet)
    {
        switch (packet.Type)
        {
            case EnginePacketType.Pong:
                _pongTimer.Change(Timeout.Infinite, Timeout.Infinite);
                if (IsOpen) _pingTimer.Change(_options.PingInterval, Timeout.InfiniteTimeSpan);
                break;
            case EnginePacketType.Ping:
                // Engine.IO v4: the server pings, the client answers; a client ping is an error.
                Close(EngineCloseReason.TransportError, graceful: false);
                break;
            case EnginePacketType.Message:
                if (!IsOpen) return;
                try
                {
                    Message?.Invoke(this, packet);
                }
                catch (Exception ex)
                {
                    _logger.LogError(ex, "Engine.IO session {Sid}: message handler failed", Id);
                }
                break;
            case EnginePacketType.Close:
                Close(EngineCloseReason.TransportClose, graceful: false);
                break;
        }
    }

    // ───────────────────────────── closing ─────────────────────────────

    /// <summary>Closes the session from the server side ("forced close"): what is queued still goes out first.</summary>
    public void Close() => Close(EngineCloseReason.ForcedClose, graceful: true);

    internal void Close(string reason, bool graceful)
    {
        TaskCompletionSource? wake;
        bool deferRemoval;
        lock (_gate)
        {
            if (_state != SessionState.Open) return;
            _closeReason = reason;
            _discarded = !graceful;
            if (!graceful) _buffer.Clear();
            // A polling session keeps its last packets (and the close packet) for the next poll; so it
            // does when the client's close came in a POST that overtook its poll, which then ends with a
            // noop rather than an unknown-sid error.
            deferRemoval = _socket is null && !_pollActive && !_upgrading && (graceful || reason == EngineCloseReason.TransportClose);
            _state = deferRemoval ? SessionState.Closing : SessionState.Closed;
            wake = _socket is not null ? _writerWake : _pollWake;
            _writerWake = null;
            _pollWake = null;
            if (deferRemoval)
                _closeDeliveryTimer = new Timer(static s => ((EngineIOSession)s!).FinishClose(), this, _options.CloseDeliveryTimeout, Timeout.InfiniteTimeSpan);
        }
        _pingTimer.Change(Timeout.Infinite, Timeout.Infinite);
        _pongTimer.Change(Timeout.Infinite, Timeout.Infinite);
        wake?.TrySetResult();
        if (!deferRemoval) _server.Remove(this);
        _logger.LogDebug("Engine.IO session {Sid} closed: {Reason}", Id, reason);
        try
        {
            Closed?.Invoke(this, reason);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Engine.IO session {Sid}: close handler failed", Id);
        }
        // A WebSocket still being probed is dropped with the session; a transport's writer closes its own.
        try
        {
            _upgradeCancel?.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void FinishClose()
    {
        lock (_gate)
        {
            _state = SessionState.Closed;
            _closeDeliveryTimer?.Dispose();
        }
        _server.Remove(this);
    }

    internal string? CloseReason => _closeReason;

    // ───────────────────────────── polling ─────────────────────────────

    internal async Task HandlePollAsync(HttpContext context)
    {
        TaskCompletionSource? wait = null;
        bool overlap = false;
        lock (_gate)
        {
            if (_pollActive) overlap = true;
            else
            {
                _pollActive = true;
                if (_buffer.Count == 0 && _state == SessionState.Open && _socket is null)
                    wait = _pollWake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        if (overlap)
        {
            // A second pending GET: the reference server fails the session ("overlap from client").
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            Close(EngineCloseReason.TransportError, graceful: false);
            return;
        }
        if (wait is not null)
        {
            using (context.RequestAborted.Register(static s => ((TaskCompletionSource)s!).TrySetCanceled(), wait))
            {
                try
                {
                    await wait.Task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    lock (_gate)
                    {
                        _pollActive = false;
                        if (_pollWake == wait) _pollWake = null;
                    }
                    Close(EngineCloseReason.TransportError, graceful: false); // "poll connection closed prematurely"
                    return;
                }
            }
        }
        List<EnginePacket> packets;
        bool finishClose;
        lock (_gate)
        {
            if (_socket is not null)
            {
                // Upgraded meanwhile. A client pauses polling, and waits for its last poll to end, before
                // it completes the upgrade; a poll still here now is as stale as one arriving after it,
                // which the reference refuses as a bad request. The WebSocket carries the buffer now.
                packets = [];
                finishClose = false;
            }
            else
            {
                packets = new List<EnginePacket>(_buffer);
                _buffer.Clear();
                // The pending poll of a closed session ends with a close packet, except when the client
                // itself sent the close: the reference then only releases the poll with a noop.
                if (_state != SessionState.Open)
                    packets.Add(_closeReason == EngineCloseReason.TransportClose ? EnginePacket.NoopPacket : EnginePacket.ClosePacket);
                else if (packets.Count == 0) packets.Add(EnginePacket.NoopPacket);
                finishClose = _state == SessionState.Closing;
            }
            _pollActive = false;
        }
        if (packets.Count == 0)
        {
            await EngineIOServer.RefuseAsync(context, upgrade: false, EngineIOError.BadRequest, null).ConfigureAwait(false);
            return;
        }
        var body = Encoding.UTF8.GetBytes(EnginePayload.Encode(packets));
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/plain; charset=UTF-8";
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        try
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            Close(EngineCloseReason.TransportError, graceful: false);
        }
        if (finishClose) FinishClose();
    }

    internal async Task HandleDataAsync(HttpContext context)
    {
        lock (_gate)
        {
            if (_postActive)
            {
                Close(EngineCloseReason.TransportError, graceful: false); // "data request overlap from client"
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            _postActive = true;
        }
        try
        {
            var request = context.Request;
            if (string.Equals(request.ContentType, "application/octet-stream", StringComparison.OrdinalIgnoreCase))
            {
                // Engine.IO v4 polling bodies are text; binary travels base64-encoded.
                Close(EngineCloseReason.TransportError, graceful: false);
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            int limit = _options.MaxHttpBufferSize;
            if (request.ContentLength > limit)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            var body = await ReadBodyAsync(request.Body, limit, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
            }
            catch (DecoderFallbackException)
            {
                text = "";
            }
            if (!EnginePayload.TryDecode(text, out var packets))
            {
                Close(EngineCloseReason.ParseError, graceful: false);
            }
            else
            {
                foreach (var packet in packets)
                {
                    if (!IsOpen) break;
                    OnPacket(packet);
                }
            }
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            // text/html, as the reference answers, keeps old user agents from offering a download.
            response.ContentType = "text/html";
            response.ContentLength = 2;
            response.Headers.CacheControl = "no-store";
            await response.WriteAsync("ok", context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            Close(EngineCloseReason.TransportError, graceful: false); // "data request connection closed prematurely"
        }
        finally
        {
            lock (_gate) _postActive = false;
        }
    }

    /// <summary>Reads a body of at most <paramref name="limit"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            int read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0) return buffer.ToArray();
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
    }

    // ───────────────────────────── WebSocket ─────────────────────────────

    /// <summary>Runs a session whose transport is the WebSocket from the start, until it ends.</summary>
    internal async Task RunWebSocketAsync(WebSocketConnection socket)
    {
        var writer = WriteLoopAsync(socket);
        await using (var messages = socket.ReadMessagesAsync().GetAsyncEnumerator())
            await ReadLoopAsync(messages).ConfigureAwait(false);
        await writer.ConfigureAwait(false);
    }

    /// <summary>
    /// A WebSocket offered to a polling session: answers the probe, flushes the pending poll with a
    /// noop every 100 ms so the client can pause polling, and switches on <c>5</c>. Anything else, a
    /// close, or <see cref="EngineIOOptions.UpgradeTimeout"/> passing drops the WebSocket and leaves
    /// the session on polling.
    /// </summary>
    internal async Task UpgradeAsync(WebSocketConnection socket)
    {
        lock (_gate)
        {
            if (_state != SessionState.Open || _upgrading || _socket is not null)
            {
                _ = CloseSocketQuietlyAsync(socket);
                return;
            }
            _upgrading = true;
            _upgradeCancel = new CancellationTokenSource(_options.UpgradeTimeout);
        }
        using var timeout = _upgradeCancel;
        Timer? flushPoll = null;
        bool upgraded = false;
        var messages = socket.ReadMessagesAsync(timeout.Token).GetAsyncEnumerator();
        try
        {
            try
            {
                while (await messages.MoveNextAsync().ConfigureAwait(false))
                {
                    var message = messages.Current;
                    string? text = message.IsText ? message.Text : null;
                    if (text == "2probe")
                    {
                        await socket.SendTextAsync("3probe").ConfigureAwait(false);
                        flushPoll ??= new Timer(static s => ((EngineIOSession)s!).FlushPendingPoll(), this, 100, 100);
                        continue;
                    }
                    upgraded = text == "5";
                    break;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
            {
            }
            finally
            {
                flushPoll?.Dispose();
            }
            TaskCompletionSource? pollWake = null;
            lock (_gate)
            {
                _upgrading = false;
                if (upgraded && _state == SessionState.Open)
                {
                    Volatile.Write(ref _socket, socket);
                    Upgraded = true;
                    pollWake = _pollWake;
                    _pollWake = null;
                }
                else upgraded = false;
            }
            if (!upgraded)
            {
                await CloseSocketQuietlyAsync(socket).ConfigureAwait(false);
                return;
            }
            timeout.CancelAfter(Timeout.Infinite);
            lock (_gate) _upgradeCancel = null;
            pollWake?.TrySetResult();
            _logger.LogDebug("Engine.IO session {Sid} upgraded to websocket", Id);
            var writer = WriteLoopAsync(socket);
            await ReadLoopAsync(messages).ConfigureAwait(false);
            await writer.ConfigureAwait(false);
        }
        finally
        {
            await messages.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void FlushPendingPoll()
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_socket is not null) return;
            wake = _pollWake;
            _pollWake = null;
        }
        // The poll wakes to an empty buffer and answers a noop.
        wake?.TrySetResult();
    }

    private async Task ReadLoopAsync(IAsyncEnumerator<WebSocketMessage> messages)
    {
        try
        {
            while (await messages.MoveNextAsync().ConfigureAwait(false))
            {
                var message = messages.Current;
                EnginePacket packet;
                if (message.IsText)
                {
                    if (!EnginePacket.TryParse(message.Text, out packet) || packet.IsBinary)
                    {
                        Close(EngineCloseReason.ParseError, graceful: false);
                        return;
                    }
                }
                else packet = EnginePacket.Message(message.ToArray());
                OnPacket(packet);
                if (_state == SessionState.Closed) return;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        // The peer closed the WebSocket (or it failed).
        Close(EngineCloseReason.TransportClose, graceful: false);
    }

    private async Task WriteLoopAsync(WebSocketConnection socket)
    {
        // Two lists trade places: the writer sends one while packets gather in the other.
        var batch = new List<EnginePacket>();
        try
        {
            while (true)
            {
                TaskCompletionSource? wait = null;
                batch.Clear();
                lock (_gate)
                {
                    if (_buffer.Count > 0) (_buffer, batch) = (batch, _buffer);
                    else if (_state != SessionState.Open) break;
                    else wait = _writerWake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                if (wait is not null)
                {
                    await wait.Task.ConfigureAwait(false);
                    continue;
                }
                for (int i = 0; i < batch.Count; i++)
                {
                    await socket.SendAsync(batch[i].ToFrame()).ConfigureAwait(false);
                    if (batch[i].WriteAlone)
                    {
                        // What follows goes in a later write, as it does from the reference server (see EnginePacket.WriteAlone).
                        lock (_gate)
                            if (!_discarded) _buffer.InsertRange(0, batch.Skip(i + 1));
                        await Task.Delay(WriteAlonePause).ConfigureAwait(false);
                        break;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
            Close(EngineCloseReason.TransportError, graceful: false);
        }
        await CloseSocketQuietlyAsync(socket).ConfigureAwait(false);
    }

    private static async Task CloseSocketQuietlyAsync(WebSocketConnection socket)
    {
        try
        {
            if (socket.State < WebSocketState.CloseSent) await socket.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
    }
}
