using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex;

/// <summary>
/// One WebSocket connection over a duplex pipe, for either role. A read loop runs from the start to
/// the end of the connection, so pings, pongs and close frames are handled whether or not the
/// application is reading; data messages queue for <see cref="ReadMessagesAsync"/> (bounded, see
/// <see cref="WebSocketConnectionOptions.ReceiveQueueCapacity"/>). Sends are safe from many threads at
/// once: each message goes out whole, never interleaved with another.
/// </summary>
public sealed partial class WebSocketConnection : IAsyncDisposable
{
    // Fields, grouped by who may touch them. The groups are the connection's locking rules: a field
    // is read and written only as its group says (Debug.Assert checks the send lock where it matters).

    private static long s_nextId;

    // ── Set in the constructor, never changed: any thread.
    private readonly IDuplexPipe _transport;
    private readonly WebSocketConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly SendLock _sendLock = new();
    private readonly MessageInbox _inbox;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<ValueTask>? _closeTransport;
    private readonly HeartbeatScheduler? _heartbeat;
    private readonly System.Threading.RateLimiting.TokenBucketRateLimiter? _messageBucket;
    private readonly System.Threading.RateLimiting.TokenBucketRateLimiter? _byteBucket;
    // The protocol (framing, limits, UTF-8, inflation, the close handshake's rules). Its input side is
    // the read loop's; its output side is used under _sendLock only.
    private readonly WebSocketProtocol _protocol;

    // ── Any thread, through volatile reads and Interlocked/CAS writes.
    private volatile int _state = (int)WebSocketState.Open;  // moves only forward (SetState)
    private long _bufferedBytes;                  // accepted for sending, not yet on the socket
    private int _slowClosed;                      // 1 once a slow consumer was told to close
    private int _readStopArmed;                   // 1 once the close timer runs
    private CancellationTokenRegistration _stopReading; // the close timer's StopReading, disposed before the pipes are released
    private long _lastReceived;                   // Stopwatch timestamp of the latest bytes from the peer
    private long _heartbeatPingSentAt;            // Stopwatch timestamp of the unanswered keep-alive ping, or 0
    private long _lastMessage;                    // Stopwatch timestamp of the latest data message (or part) received (IdleTimeout)
    private readonly long _expiresAt;             // Stopwatch timestamp the connection's MaxLifetime ends at, or 0
    private long _pingCounter;                    // payloads of PingAsync's pings
    private int _inHand;                          // messages handed to the application and not yet handled
    private TaskCompletionSource? _consumerIdle;  // completed when _inHand drops to 0
    private volatile bool _readerLeft;            // the application stopped reading messages
    private volatile bool _deliveryBlocked;       // the read loop waits for room in the inbox
    // Written once each where the connection ends (??=): the first reason wins.
    private CloseStatus? _closeStatus;
    private string? _closeDescription;
    // Made on first use by whoever needs them (most connections never do).
    private SemaphoreSlim? _writerGateStorage; // one fragmented message at a time
    private SemaphoreSlim _writerGate => LazyInitializer.EnsureInitialized(ref _writerGateStorage, static () => new SemaphoreSlim(1, 1));
    private List<PendingPing>? _pendingPingsStorage; // under lock (_pendingPings)
    private List<PendingPing> _pendingPings => LazyInitializer.EnsureInitialized(ref _pendingPingsStorage, static () => []);

    // ── Guarded by _sendLock (with _protocol's output side).
    private bool _outputDone;
    private WebSocketMessageWriter? _openWriter;  // a fragmented message is on the wire (AbandonMessage clears it by CAS)
    // Sends made while a read loop hands out a message (the application running inline) are flushed
    // together once that loop has handled the bytes it holds (FlushOrDeferAsync): a batch of echoes
    // goes out in one write, and a batch of broadcasts in one write per recipient.
    private bool _flushDeferred;                  // bytes in the pipe wait for a read loop's flush
    private int _deferredBytes;

    // ── The read loop only (ReadLoopAsync and what it calls, one at a time; with _protocol's input side).
    private List<WebSocketConnection>? _flushQueue; // other connections this batch wrote to (pooled; see FlushBatching)
    private ReadOnlySequence<byte> _unread;

    /// <summary>
    /// Starts a connection over <paramref name="transport"/>, after a completed opening handshake.
    /// </summary>
    /// <param name="transport">The bytes after the handshake: <see cref="IDuplexPipe.Input"/> from the peer,
    /// <see cref="IDuplexPipe.Output"/> to it. The connection reads from it at once and completes both
    /// pipes when it ends.</param>
    /// <param name="role">Which end this is: decides masking (RFC 6455 §5.1) and who closes TCP first (§7.1.1).</param>
    /// <param name="options">Limits and timeouts, copied for this connection; null for the defaults.</param>
    /// <param name="subprotocol">The subprotocol agreed in the handshake, or null (<see cref="Subprotocol"/>).</param>
    /// <param name="remoteEndPoint">The peer's address, or null when unknown (<see cref="RemoteEndPoint"/>).</param>
    /// <param name="logger">Where the connection logs (<see cref="DuplexLogEvents"/>); null logs nothing.</param>
    /// <param name="compression">The permessage-deflate parameters agreed in the handshake (RFC 7692), or
    /// null when none were: RSV1 then stays reserved and a frame with it set fails the connection.</param>
    /// <param name="closeTransport">Called once when the connection is over and the pipes are completed,
    /// to release what lies beneath them (a socket, a stream).</param>
    public WebSocketConnection(
        IDuplexPipe transport,
        WebSocketRole role,
        WebSocketConnectionOptions? options = null,
        string? subprotocol = null,
        EndPoint? remoteEndPoint = null,
        ILogger? logger = null,
        Func<ValueTask>? closeTransport = null,
        PerMessageDeflateParameters? compression = null)
        : this(new FrozenOptions(options?.Clone() ?? new WebSocketConnectionOptions()), transport, role, subprotocol, remoteEndPoint, logger, closeTransport, compression)
    {
    }

    /// <summary>Options nobody changes any more (a server endpoint's copy), shared by its connections instead of copied per connection.</summary>
    internal readonly record struct FrozenOptions(WebSocketConnectionOptions Value);

    internal WebSocketConnection(
        FrozenOptions options,
        IDuplexPipe transport,
        WebSocketRole role,
        string? subprotocol = null,
        EndPoint? remoteEndPoint = null,
        ILogger? logger = null,
        Func<ValueTask>? closeTransport = null,
        PerMessageDeflateParameters? compression = null)
    {
        _transport = transport;
        Role = role;
        _options = options.Value;
        _logger = logger ?? NullLogger.Instance;
        Subprotocol = subprotocol;
        RemoteEndPoint = remoteEndPoint;
        _closeTransport = closeTransport;
        Id = Interlocked.Increment(ref s_nextId);
        Compression = compression;
        _protocol = new WebSocketProtocol(role, _options.ProtocolOptions(), compression);
        if (compression is not null && _options.Compression.MemoryBudget is { } budget)
        {
            _budget = budget;
            _budgetBytes = CompressionMemoryBudget.CostOf(compression, role, _options.Compression.MemoryLevel);
            budget.Take(_budgetBytes);
        }
        // A waiting application runs on the read loop's thread when a message arrives, instead of
        // being queued to the thread pool: one hop less per message, as when the application reads
        // the socket itself. The read loop's state is settled before each delivery (DeliverAsync).
        _inbox = new MessageInbox(_options.ReceiveQueueCapacity);
        if (_options.ReceiveRateLimit.IsSet)
        {
            _messageBucket = ReceiveRateLimit.Bucket(_options.ReceiveRateLimit.MessagesPerSecond);
            _byteBucket = ReceiveRateLimit.Bucket(_options.ReceiveRateLimit.BytesPerSecond);
        }
        DuplexMetrics.ConnectionsOpened.Add(1);
        DuplexMetrics.HandshakesAccepted.Add(1, new KeyValuePair<string, object?>("role", role == WebSocketRole.Server ? "server" : "client"));
        DuplexMetrics.ActiveConnections.Add(1);
        _lastReceived = Stopwatch.GetTimestamp();
        _lastMessage = _lastReceived;
        if (_options.HasMaxLifetime)
        {
            // Shortened by a random fraction of up to the jitter, never lengthened.
            var life = _options.MaxLifetime * (1 - _options.MaxLifetimeJitter * Random.Shared.NextDouble());
            _expiresAt = _lastReceived + (long)(life.TotalSeconds * Stopwatch.Frequency);
        }
        if (_options.NeedsHeartbeat)
        {
            _heartbeat = HeartbeatScheduler.For(_options);
            _heartbeat.Add(this);
        }
        // Last, once everything is set: the loop runs on this thread up to its first read that has to
        // wait (bytes that came with the handshake are handled at once; the application reads them
        // from the inbox). No hop to the thread pool per connection.
        _ = ReadLoopAsync();
    }

    /// <summary>A process-wide number for logs.</summary>
    public long Id { get; }

    /// <summary>Which end of the connection this is; server frames are unmasked, client frames masked (RFC 6455 §5.1).</summary>
    public WebSocketRole Role { get; }

    /// <summary>Where the connection is in its life; <see cref="WebSocketState.Closed"/> or <see cref="WebSocketState.Aborted"/> once over.</summary>
    public WebSocketState State => (WebSocketState)_state;

    /// <summary>
    /// How the connection ended: the code of the peer's close frame (1005 if it had none), the code this
    /// side failed the connection with, or 1006 when it ended without a close frame. Null while open.
    /// </summary>
    public CloseStatus? CloseStatus => _closeStatus;

    /// <summary>
    /// The reason that came with <see cref="CloseStatus"/>: the one in the peer's close frame (empty if it
    /// had none), or the one this side failed the connection with. Null while open and when the
    /// connection ended without one.
    /// </summary>
    public string? CloseStatusDescription => _closeDescription;

    /// <summary>
    /// The server's answer to this client's opening handshake (status 101, reason, headers: cookies,
    /// the server's own headers). Null on the server side and for connections not opened by
    /// <see cref="WebSocketClient"/>.
    /// </summary>
    public Protocol.HttpResponseHead? HandshakeResponse { get; internal set; }

    /// <summary>The subprotocol both sides agreed on in the handshake, or null.</summary>
    public string? Subprotocol { get; }

    /// <summary>The peer's address as the transport reported it, or null when unknown.</summary>
    public EndPoint? RemoteEndPoint { get; }

    private CompressionMemoryBudget? _budget; // what this connection's zlib state counts against, if bounded
    private long _budgetBytes;

    /// <summary>The permessage-deflate parameters agreed in the handshake, or null when not compressing.</summary>
    public PerMessageDeflateParameters? Compression { get; }

    /// <summary>Who is on the other end, as the handshake's authentication established it.</summary>
    public ClaimsPrincipal? User { get; set; }

    /// <summary>The application's own per-connection state.</summary>
    public IDictionary<string, object?> Items => _items ??= new Dictionary<string, object?>();

    private Dictionary<string, object?>? _items; // most connections never use it: allocated on first use

    /// <summary>Completes when the connection is over and its transport released. Never faults.</summary>
    public Task Completion => _completion.Task;
}
