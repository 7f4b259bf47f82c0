using System.Diagnostics;
using System.Net;
using System.Security.Claims;
using Duplex.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// One Engine.IO session: the handshake data, a send buffer that outlives transports, the heartbeat,
/// the close and its reason, and the transport in use — HTTP long-polling or a WebSocket — with the
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
    private List<QueuedPacket> _buffer = new(); // swapped with the WebSocket writer's batch, under _gate
    private SessionState _state;

    // What waits to be written, under _gate: queued (in _buffer) and taken by a transport but not yet
    // written (a WebSocket writer's batch, a poll's response). BufferedAmount is their bytes together.
    private long _queuedBytes, _inFlightBytes;
    private int _inFlightPackets; // the queued packets are _buffer.Count
    private TaskCompletionSource<bool>? _drain;
    private bool _overflowReported;

    // The transport packets go over now; the polling one stays, to answer polling requests that were
    // already on their way when the upgrade committed.
    private EngineTransport _transport;
    private readonly PollingTransport? _polling;
    private bool _upgrading;
    private CancellationTokenSource? _upgradeCancel;

    // One timer for the heartbeat: due at the next ping while no pong is awaited (_pongDeadline 0),
    // else at the awaited pong's deadline. A session's only timer while it is open.
    private readonly Timer _heartbeat;
    private Timer? _closeDeliveryTimer;
    private string? _closeReason;
    private bool _discarded;

    internal EngineIOSession(EngineIOServer server, string id, HttpContext handshake, WebSocketConnection? socket)
        : this(server, id, HandshakeRequest.From(handshake), socket)
    {
    }

    /// <summary>A WebSocket session whose handshake the connection-level fast path served (no <see cref="HttpContext"/>).</summary>
    internal EngineIOSession(EngineIOServer server, string id, FastPathRequest handshake, WebSocketConnection socket)
        : this(server, id, HandshakeRequest.From(handshake), socket)
    {
    }

    private EngineIOSession(EngineIOServer server, string id, in HandshakeRequest handshake, WebSocketConnection? socket)
    {
        _server = server;
        _options = server.Options;
        _logger = server.Logger;
        Id = id;
        if (socket is null) _transport = _polling = new PollingTransport(this);
        else _transport = new WebSocketTransport(this, socket, CancellationToken.None);
        RequestHeaders = handshake.Headers;
        Query = handshake.Query;
        RemoteAddress = handshake.RemoteAddress;
        Url = handshake.Url;
        IsSecure = handshake.IsSecure;
        User = handshake.User;
        CreatedAt = DateTimeOffset.UtcNow;
        _heartbeat = new Timer(static s => ((EngineIOSession)s!).OnHeartbeatDue(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The session id, the <c>sid</c> of the open packet and of the client's later requests: 20 random base64url characters.</summary>
    public string Id { get; }

    /// <summary>"polling" or "websocket": the transport packets go over now.</summary>
    public string Transport => Volatile.Read(ref _transport).Name;

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

    /// <summary>
    /// The handshake request as the session keeps it, from ASP.NET Core's request or from what the fast
    /// path parsed: the same values either way for the same request.
    /// </summary>
    private readonly record struct HandshakeRequest(IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string> Query,
        IPAddress? RemoteAddress, string Url, bool IsSecure, ClaimsPrincipal? User)
    {
        public static HandshakeRequest From(HttpContext context)
        {
            var request = context.Request;
            return new(
                request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal),
                context.Connection.RemoteIpAddress,
                request.Path + request.QueryString,
                request.IsHttps,
                context.User);
        }

        public static HandshakeRequest From(FastPathRequest request)
        {
            var head = request.Head;
            // As Kestrel's header dictionary gives them: lines of one name (in any case) are one entry,
            // their values joined by "," (StringValues.ToString), names looked up case-insensitively.
            var headers = new Dictionary<string, string>(head.Headers.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in head.Headers)
            {
                if (headers.TryGetValue(name, out var earlier)) headers[name] = earlier + "," + value;
                else headers[name.ToLowerInvariant()] = value;
            }
            // The judge parsed the query (as ASP.NET Core's query feature parses it) to accept the request.
            var parsed = request.State as Dictionary<string, Microsoft.Extensions.Primitives.StringValues>
                ?? Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(head.Query);
            var query = new Dictionary<string, string>(parsed.Count, StringComparer.Ordinal);
            foreach (var (name, values) in parsed) query[name] = values.ToString();
            // No authentication runs on the fast path (and endpoints of an application that has a scheme
            // never take it): the anonymous user an HttpContext has then.
            return new(headers, query, request.RemoteIpAddress, head.Path + head.Query, request.IsHttps, new ClaimsPrincipal(new ClaimsIdentity()));
        }
    }

    /// <summary>True until the session closes (<see cref="Closed"/>); after that <see cref="Send(EnginePacket)"/> queues nothing.</summary>
    public bool IsOpen => _state == SessionState.Open;

    /// <summary>
    /// True when a packet sent now would go out at once: a poll is waiting, or the WebSocket writer has
    /// nothing queued and nothing in flight (the reference's <c>transport.writable</c>). Volatile packets
    /// (<see cref="EngineSendFlags.Volatile"/>) are sent only then.
    /// </summary>
    public bool IsWritable
    {
        get
        {
            lock (_gate) return _state == SessionState.Open && _transport.IsWritableLocked;
        }
    }

    /// <summary>
    /// Bytes sent and not yet written to the transport (the socket's pipe, a poll's response): queued packets
    /// and those a transport took but has not finished writing, each counted as its WebSocket message
    /// before compression. At most <see cref="EngineIOOptions.MaxBufferedBytes"/> plus one packet.
    /// </summary>
    public long BufferedAmount
    {
        get
        {
            lock (_gate) return _queuedBytes + _inFlightBytes;
        }
    }

    /// <summary>
    /// Raised (on the transport's task) when everything sent so far has been written and
    /// <see cref="BufferedAmount"/> falls to 0 — the reference's <c>drain</c>.
    /// </summary>
    public event Action<EngineIOSession>? Drain;

    /// <summary>
    /// Completes when everything sent so far has been written (true; at once when nothing waits), or when
    /// the session closes first (false). A producer that awaits it between bursts never fills the buffer.
    /// </summary>
    public Task<bool> WaitForDrainAsync(CancellationToken cancellationToken = default)
    {
        Task<bool> drained;
        lock (_gate)
        {
            if (_state != SessionState.Open) return Task.FromResult(false);
            if (_buffer.Count + _inFlightPackets == 0) return Task.FromResult(true);
            drained = (_drain ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        return cancellationToken.CanBeCanceled ? drained.WaitAsync(cancellationToken) : drained;
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
        Send(EnginePacket.Create(EnginePacketType.Open, OpenPacketJson(polling: _transport is PollingTransport)));
        _heartbeat.Change(_options.PingInterval, Timeout.InfiniteTimeSpan);
    }

    // ───────────────────────────── sending ─────────────────────────────

    /// <summary>
    /// Queues a packet; false when it was not queued: the session is no longer open, or the buffer is full
    /// (<see cref="EngineIOOptions.MaxBufferedBytes"/>, <see cref="EngineIOOptions.MaxBufferedPackets"/>)
    /// and the <see cref="EngineIOOptions.SlowConsumerPolicy"/> dropped it or closed the session.
    /// </summary>
    public bool Send(EnginePacket packet) => Send(packet, EngineSendFlags.None);

    /// <inheritdoc cref="Send(EnginePacket)"/>
    public bool Send(IReadOnlyList<EnginePacket> packets) => Send(packets, EngineSendFlags.None);

    /// <summary>As <see cref="Send(EnginePacket)"/>, with <paramref name="flags"/> (a volatile packet is dropped unless <see cref="IsWritable"/>).</summary>
    public bool Send(EnginePacket packet, EngineSendFlags flags)
    {
        TransportWake wake;
        lock (_gate)
        {
            if (!CanQueueLocked(flags, packet.WireLength, 1, out var overflow))
            {
                if (overflow) OnOverflow();
                return false;
            }
            _buffer.Add(new QueuedPacket(packet, flags));
            _queuedBytes += packet.WireLength;
            wake = _transport.TakeWakeLocked();
        }
        wake.Signal();
        return true;
    }

    /// <summary>
    /// As <see cref="Send(EnginePacket, EngineSendFlags)"/> for packets kept together, in order (a Socket.IO
    /// packet and its attachments): all are queued, or none.
    /// </summary>
    public bool Send(IReadOnlyList<EnginePacket> packets, EngineSendFlags flags)
    {
        TransportWake wake;
        long bytes = 0;
        for (int i = 0; i < packets.Count; i++) bytes += packets[i].WireLength;
        lock (_gate)
        {
            if (!CanQueueLocked(flags, bytes, packets.Count, out var overflow))
            {
                if (overflow) OnOverflow();
                return false;
            }
            for (int i = 0; i < packets.Count; i++) _buffer.Add(new QueuedPacket(packets[i], flags));
            _queuedBytes += bytes;
            wake = _transport.TakeWakeLocked();
        }
        wake.Signal();
        return true;
    }

    /// <summary>
    /// Whether packets may join the buffer. A volatile packet only when the transport is writable (then
    /// nothing waits, so volatile packets never meet a full buffer). Others while the buffer stays within
    /// its limits; an empty buffer takes one send of any size, so a large packet is not refused outright.
    /// </summary>
    private bool CanQueueLocked(EngineSendFlags flags, long bytes, int count, out bool overflow)
    {
        overflow = false;
        if (_state != SessionState.Open) return false;
        if ((flags & EngineSendFlags.Volatile) != 0 && !_transport.IsWritableLocked)
        {
            EngineIOMetrics.Dropped.Add(count, EngineIOMetrics.Volatile);
            return false;
        }
        int packets = _buffer.Count + _inFlightPackets;
        if (packets == 0) return true;
        if (packets + count <= _options.MaxBufferedPackets && _queuedBytes + _inFlightBytes + bytes <= _options.MaxBufferedBytes) return true;
        EngineIOMetrics.Dropped.Add(count, EngineIOMetrics.BufferFull);
        overflow = true;
        return false;
    }

    /// <summary>
    /// The buffer passed a limit (called under the lock, which is re-entrant): logged once per session, then
    /// the packet is dropped, or the session closed as a slow consumer.
    /// </summary>
    private void OnOverflow()
    {
        bool close = _options.SlowConsumerPolicy == SlowConsumerPolicy.Close;
        if (!_overflowReported)
        {
            _overflowReported = true;
            _logger.LogInformation("Engine.IO session {Sid}: {Bytes} bytes in {Packets} packets wait for a client that does not read them ({Transport}); {Outcome}",
                Id, _queuedBytes + _inFlightBytes, _buffer.Count + _inFlightPackets, _transport.Name,
                close ? "closing it as a slow consumer" : "dropping what does not fit (counted as duplex.socketio.engine.dropped)");
        }
        if (!close) return;
        EngineIOMetrics.SlowConsumers.Add(1);
        // Close on another thread: the sender holds the lock, and close handlers must not run under it.
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.CloseAsSlowConsumer(), this, preferLocal: false);
    }

    private void CloseAsSlowConsumer()
    {
        if (Volatile.Read(ref _transport) is WebSocketTransport webSocket) webSocket.CloseStalled();
        Close(EngineCloseReason.SlowConsumer, graceful: false);
    }

    // ───────────────────────────── heartbeat ─────────────────────────────

    private void OnHeartbeatDue()
    {
        if (Volatile.Read(ref _pongDeadline) != 0)
        {
            Close(EngineCloseReason.PingTimeout, graceful: false);
            return;
        }
        // The pong's deadline is armed before the ping goes out, so a pong, however quick, finds it to clear.
        Volatile.Write(ref _pongDeadline, Stopwatch.GetTimestamp() + (long)(_options.PingTimeout.TotalSeconds * Stopwatch.Frequency));
        _heartbeat.Change(_options.PingTimeout, Timeout.InfiniteTimeSpan);
        if (!Send(EnginePacket.PingPacket)) Volatile.Write(ref _pongDeadline, 0);
    }

    // When the unanswered ping's timeout passes (Stopwatch timestamp), or 0. The pong timer acts on it,
    // but a timer under load fires late: a request that arrives after the deadline finds the session
    // over instead of racing the timer (as the reference server's exact timers make it).
    private long _pongDeadline;

    /// <summary>Closes the session if its ping went unanswered past the timeout and the timer has not fired yet.</summary>
    private bool HasTimedOut()
    {
        long deadline = Volatile.Read(ref _pongDeadline);
        if (deadline == 0 || Stopwatch.GetTimestamp() < deadline) return false;
        Close(EngineCloseReason.PingTimeout, graceful: false);
        return true;
    }

    /// <summary>A packet the current transport read from the client.</summary>
    internal void OnPacket(EnginePacket packet)
    {
        switch (packet.Type)
        {
            case EnginePacketType.Pong:
                Volatile.Write(ref _pongDeadline, 0);
                if (IsOpen) _heartbeat.Change(_options.PingInterval, Timeout.InfiniteTimeSpan);
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
        TransportWake wake;
        TaskCompletionSource<bool>? drain;
        bool deferRemoval;
        lock (_gate)
        {
            if (_state != SessionState.Open) return;
            _closeReason = reason;
            _discarded = !graceful;
            if (!graceful)
            {
                _buffer.Clear();
                _queuedBytes = 0;
            }
            drain = _drain;
            _drain = null;
            // A polling session keeps its last packets (and the close packet) for the next poll; so it
            // does when the client's close came in a POST that overtook its poll, which then ends with a
            // noop rather than an unknown-sid error; and a slow consumer's, whose packets are dropped but
            // whose client then reads a close packet ("transport close") rather than an unknown sid.
            deferRemoval = _transport.DefersCloseLocked && !_upgrading
                && (graceful || reason is EngineCloseReason.TransportClose or EngineCloseReason.SlowConsumer);
            Debug.Assert(!deferRemoval || _transport is PollingTransport, "only a polling session waits for its last poll");
            _state = deferRemoval ? SessionState.Closing : SessionState.Closed;
            wake = _transport.TakeWakeLocked();
            if (deferRemoval)
                _closeDeliveryTimer = new Timer(static s => ((EngineIOSession)s!).FinishClose(), this, _options.CloseDeliveryTimeout, Timeout.InfiniteTimeSpan);
        }
        _heartbeat.Change(Timeout.Infinite, Timeout.Infinite);
        wake.Signal();
        drain?.TrySetResult(false);
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

    /// <summary>Ends a session that was kept for its last poll, once that poll took the last packets.</summary>
    internal void FinishClose()
    {
        lock (_gate)
        {
            _state = SessionState.Closed;
            _closeDeliveryTimer?.Dispose();
        }
        _server.Remove(this);
    }

    internal string? CloseReason => _closeReason;

    // ───────────────────────── for the transports ─────────────────────────

    /// <summary>The lock the session shares with its transports (see <see cref="EngineTransport"/>).</summary>
    internal object Gate => _gate;

    internal EngineIOOptions Options => _options;

    internal bool IsCurrentLocked(EngineTransport transport)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        return ReferenceEquals(_transport, transport);
    }

    internal bool HasQueuedLocked
    {
        get
        {
            Debug.Assert(Monitor.IsEntered(_gate));
            return _buffer.Count > 0;
        }
    }

    /// <summary>True while a closed polling session waits for the poll that takes its last packets.</summary>
    internal bool AwaitsLastPollLocked
    {
        get
        {
            Debug.Assert(Monitor.IsEntered(_gate));
            return _state == SessionState.Closing;
        }
    }

    /// <summary>
    /// Takes everything queued, for one poll's payload, with its size (to give back to <see cref="OnWritten"/>)
    /// and whether it may be compressed: unless every packet was sent with <see cref="EngineSendFlags.NoCompression"/>.
    /// </summary>
    internal List<EnginePacket> TakeQueuedLocked(out long bytes, out bool compress)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        var packets = new List<EnginePacket>(_buffer.Count);
        compress = false;
        foreach (var queued in _buffer)
        {
            packets.Add(queued.Packet);
            compress |= (queued.Flags & EngineSendFlags.NoCompression) == 0;
        }
        bytes = _queuedBytes;
        MoveInFlightLocked(_buffer.Count);
        _buffer.Clear();
        return packets;
    }

    /// <summary>
    /// Trades the queued packets for <paramref name="batch"/> (empty), so the WebSocket writer sends one
    /// list while packets gather in the other; false when nothing is queued. The packets stay counted in
    /// <see cref="BufferedAmount"/> until the writer reports them written.
    /// </summary>
    internal bool SwapQueuedLocked(ref List<QueuedPacket> batch)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        Debug.Assert(batch.Count == 0);
        if (_buffer.Count == 0) return false;
        MoveInFlightLocked(_buffer.Count);
        (_buffer, batch) = (batch, _buffer);
        return true;
    }

    private void MoveInFlightLocked(int packets)
    {
        _inFlightBytes += _queuedBytes;
        _inFlightPackets += packets;
        _queuedBytes = 0;
    }

    /// <summary>
    /// A transport wrote <paramref name="packets"/> packets (<paramref name="bytes"/>) it had taken. When
    /// nothing waits any more, returns the drain to signal once the lock is released (see <see cref="SignalDrain"/>).
    /// </summary>
    internal TaskCompletionSource<bool>? OnWrittenLocked(long bytes, int packets)
    {
        Debug.Assert(Monitor.IsEntered(_gate));
        if (packets == 0) return null;
        _inFlightBytes -= bytes;
        _inFlightPackets -= packets;
        Debug.Assert(_inFlightBytes >= 0 && _inFlightPackets >= 0, "written more than was taken");
        if (_inFlightPackets + _buffer.Count != 0) return null;
        var drain = _drain ?? DrainSignaled;
        _drain = null;
        return drain;
    }

    // Stands for "drained, nobody waits" so OnWrittenLocked can say "raise Drain" without allocating.
    private static readonly TaskCompletionSource<bool> DrainSignaled = new();

    /// <summary>Outside the lock: completes drain waiters and raises <see cref="Drain"/>.</summary>
    internal void SignalDrain(TaskCompletionSource<bool>? drain)
    {
        if (drain is null) return;
        if (drain != DrainSignaled) drain.TrySetResult(true);
        if (Drain is not { } handler) return;
        try
        {
            handler(this);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Engine.IO session {Sid}: drain handler failed", Id);
        }
    }

    /// <summary>As <see cref="OnWrittenLocked"/>, taking the lock and signalling the drain.</summary>
    internal void OnWritten(long bytes, int packets)
    {
        TaskCompletionSource<bool>? drain;
        lock (_gate) drain = OnWrittenLocked(bytes, packets);
        SignalDrain(drain);
    }

    /// <summary>Puts packets taken but not sent back at the head of the queue, unless a failure discarded the queue.</summary>
    internal void Requeue(List<QueuedPacket> batch, int from)
    {
        lock (_gate)
        {
            long bytes = 0;
            for (int i = from; i < batch.Count; i++) bytes += batch[i].Packet.WireLength;
            int count = batch.Count - from;
            _inFlightBytes -= bytes;
            _inFlightPackets -= count;
            if (_discarded) return;
            _buffer.InsertRange(0, batch.Skip(from));
            _queuedBytes += bytes;
        }
    }

    // ───────────────────────────── transports ─────────────────────────────

    /// <summary>Serves a polling GET or POST of this session.</summary>
    internal Task HandlePollingRequestAsync(HttpContext context)
    {
        // The server routes transport=polling requests only to sessions that were polling when it looked.
        Debug.Assert(_polling is not null, "a session opened over WebSocket never polls");
        if (_polling is null)
            return EngineIOServer.RefuseAsync(context, upgrade: false, EngineIOError.BadRequest, null);
        if (HasTimedOut()) return EngineIOServer.RefuseAsync(context, upgrade: false, EngineIOError.UnknownSid, null);
        return _polling.HandleRequestAsync(context);
    }

    /// <summary>Runs a session whose transport is the WebSocket from the start, until it ends.</summary>
    internal Task RunWebSocketAsync()
    {
        Debug.Assert(_transport is WebSocketTransport && _polling is null);
        return ((WebSocketTransport)_transport).RunAsync();
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
            if (_state != SessionState.Open || _upgrading || _transport is not PollingTransport)
            {
                _ = WebSocketTransport.CloseQuietlyAsync(socket);
                return;
            }
            _upgrading = true;
            _upgradeCancel = new CancellationTokenSource(_options.UpgradeTimeout);
        }
        using var timeout = _upgradeCancel;
        var candidate = new WebSocketTransport(this, socket, timeout.Token);
        var polling = _polling!;
        Timer? flushPoll = null;
        bool upgraded;
        try
        {
            upgraded = await candidate.ProbeAsync(() => flushPoll ??= new Timer(
                static s => ((PollingTransport)s!).ReleasePendingPoll(), polling, 100, 100)).ConfigureAwait(false);
        }
        finally
        {
            flushPoll?.Dispose();
        }
        TransportWake pollWake = default;
        lock (_gate)
        {
            _upgrading = false;
            if (upgraded && _state == SessionState.Open)
            {
                Debug.Assert(ReferenceEquals(_transport, polling), "an upgrade starts from polling and happens once");
                pollWake = polling.TakeWakeLocked();
                Volatile.Write(ref _transport, candidate);
                Upgraded = true;
                // From here the pending poll, if any, is released empty and refused; polling writes no more.
                Debug.Assert(!polling.IsWritableLocked, "one transport writable at a time");
            }
            else upgraded = false;
        }
        if (!upgraded)
        {
            await candidate.DiscardAsync().ConfigureAwait(false);
            return;
        }
        timeout.CancelAfter(Timeout.Infinite);
        lock (_gate) _upgradeCancel = null;
        pollWake.Signal();
        _logger.LogDebug("Engine.IO session {Sid} upgraded to websocket", Id);
        await candidate.RunAsync().ConfigureAwait(false);
    }
}
