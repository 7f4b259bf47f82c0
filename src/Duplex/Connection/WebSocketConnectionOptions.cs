using Duplex.Protocol;

namespace Duplex;

/// <summary>Limits and timeouts of one connection. Every one is bounded with a default.</summary>
public sealed class WebSocketConnectionOptions
{
    /// <summary>Largest message accepted (all fragments together); larger fails with 1009. Default 64 MiB (<see cref="WebSocketProtocolOptions.DefaultMaxMessageSize"/>).</summary>
    public long MaxMessageSize
    {
        get => _maxMessageSize;
        // Messages are assembled in one array; with ReceiveChunkSize a larger total could be
        // streamed, but each part still lives in an array.
        set => _maxMessageSize = value is > 0 and <= WebSocketProtocolOptions.MaxMessageSizeLimit
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "Between 1 byte and 2 GiB.");
    }

    private long _maxMessageSize = WebSocketProtocolOptions.DefaultMaxMessageSize;

    /// <summary>
    /// Most frames a message may have; more fails with 1008. The size limit alone would let a peer
    /// send endless empty continuation frames. Default 131072 (<see cref="WebSocketProtocolOptions.DefaultMaxFragments"/>).
    /// </summary>
    public int MaxFragments
    {
        get => _maxFragments;
        set => _maxFragments = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "At least one fragment.");
    }

    private int _maxFragments = WebSocketProtocolOptions.DefaultMaxFragments;

    /// <summary>How long a close handshake may take before the connection is dropped. Default 5 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Received messages held for the application before the read loop stops reading (TCP then pushes
    /// back on the peer). Default 64.
    /// </summary>
    public int ReceiveQueueCapacity { get; set; } = 64;

    /// <summary>
    /// Whether a ping is answered with a pong at once, by the connection itself (the default, as RFC
    /// 6455 §5.5.2 asks). False (as ws' <c>autoPong: false</c>) leaves the answer to the application:
    /// <see cref="WebSocketConnection.PingReceived"/> tells it, <see cref="WebSocketConnection.SendPongAsync"/>
    /// answers — for a protocol that carries data in pings, or a test of a peer's heartbeat.
    /// </summary>
    public bool AutoPong { get; set; } = true;

    /// <summary>
    /// How often to ping a peer that has sent nothing for that long (RFC 6455 §5.5.2 keep-alive).
    /// <see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/> turns the heartbeat off.
    /// Default 30 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative value other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public TimeSpan KeepAliveInterval
    {
        get => _keepAliveInterval;
        set => _keepAliveInterval = ValidKeepAlive(value);
    }

    private TimeSpan _keepAliveInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after a heartbeat ping the peer has to show any sign of life (a pong, or anything
    /// else) before the connection is dropped as dead (reported as 1006). <see cref="TimeSpan.Zero"/>
    /// or <see cref="Timeout.InfiniteTimeSpan"/> means no timeout, as in .NET's
    /// <c>ClientWebSocketOptions.KeepAliveTimeout</c>: pings still go out every
    /// <see cref="KeepAliveInterval"/>, but an unanswered one never drops the connection. Default 30 s.
    /// </summary>
    /// <remarks>
    /// The heartbeat is checked on the ticks of a shared timer whose period is a quarter of the shorter
    /// of <see cref="KeepAliveInterval"/> and this timeout, clamped to between 10 ms and 1 s (500 ms for
    /// 2 s + 2 s; 1 s for the defaults). The ping goes out on the first tick at least
    /// <see cref="KeepAliveInterval"/> after the peer's last sign of life, and the drop comes on the first
    /// tick at least this timeout after the ping, so a dead peer is dropped between
    /// <see cref="KeepAliveInterval"/> + <see cref="KeepAliveTimeout"/> and that plus two ticks (plus the
    /// timer's own latency): for 2 s + 2 s, between 4 s and 5 s; 5.02 s was measured.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A negative value other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public TimeSpan KeepAliveTimeout
    {
        get => _keepAliveTimeout;
        set => _keepAliveTimeout = ValidKeepAlive(value);
    }

    private TimeSpan _keepAliveTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the connection may go without receiving a data message (text or binary; a part of one
    /// when <see cref="ReceiveChunkSize"/> delivers parts) before it is closed with 1001 Going Away,
    /// reason "idle timeout". Pings, pongs and close frames do not count: the keep-alive's pongs (or a
    /// peer's own pings) would otherwise keep every connection "busy", and they say the peer is alive,
    /// not that it is used. What this side sends does not count either; a connection whose peer only
    /// listens (a feed) needs it off, or the peer to send now and then. Nor is a connection idle while
    /// the application is behind on its messages (the read loop waits for room). Checked on the
    /// keep-alive's shared timer (a quarter of the shortest of these times, between 10 ms and 1 s), so
    /// the close comes up to a tick late. <see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/>
    /// turns it off. Default off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative value other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set => _idleTimeout = ValidKeepAlive(value);
    }

    private TimeSpan _idleTimeout = TimeSpan.Zero;

    /// <summary>
    /// Longest life of a connection, from the end of its handshake: past it the connection is closed with
    /// 1001 Going Away, reason "max lifetime", however busy it is, so that clients of a long-lived fleet
    /// move over to new nodes and credentials are checked anew (as an HTTP/2 GOAWAY after a maximum
    /// connection age). 1001 rather than 1012: the service is not restarting, this connection is going
    /// away; <see cref="ReconnectingWebSocket"/> reconnects after either, after a random delay in [0,
    /// <see cref="ReconnectOptions.RestartJitter"/>]. Each connection's life is shortened by a random
    /// fraction of up to <see cref="MaxLifetimeJitter"/>, so connections opened together do not all
    /// close together. Checked on the keep-alive's shared timer, up to a tick late.
    /// <see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Default off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative value other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public TimeSpan MaxLifetime
    {
        get => _maxLifetime;
        set => _maxLifetime = ValidKeepAlive(value);
    }

    private TimeSpan _maxLifetime = TimeSpan.Zero;

    /// <summary>
    /// The spread of <see cref="MaxLifetime"/>: each connection lives a uniformly random time between
    /// <see cref="MaxLifetime"/> × (1 − this) and <see cref="MaxLifetime"/>, never longer. 0 closes every
    /// connection exactly at <see cref="MaxLifetime"/>. Default 0.1 (the last tenth of the lifetime).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not between 0 and 1 (or NaN).</exception>
    public double MaxLifetimeJitter
    {
        get => _maxLifetimeJitter;
        set => _maxLifetimeJitter = value is >= 0 and <= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "A fraction between 0 and 1.");
    }

    private double _maxLifetimeJitter = 0.1;

    /// <summary>Whether a connection quiet for <see cref="IdleTimeout"/> is closed.</summary>
    internal bool HasIdleTimeout => _idleTimeout > TimeSpan.Zero;

    /// <summary>Whether connections are closed after <see cref="MaxLifetime"/>.</summary>
    internal bool HasMaxLifetime => _maxLifetime > TimeSpan.Zero;

    /// <summary>Whether the connection needs the shared timer: for the keep-alive, the idle timeout or the lifetime.</summary>
    internal bool NeedsHeartbeat => HasKeepAlive || HasIdleTimeout || HasMaxLifetime;

    /// <summary>Whether an unanswered keep-alive ping drops the connection (a positive <see cref="KeepAliveTimeout"/>).</summary>
    internal bool HasKeepAliveTimeout => _keepAliveTimeout > TimeSpan.Zero;

    /// <summary>Whether the heartbeat runs at all (a positive <see cref="KeepAliveInterval"/>).</summary>
    internal bool HasKeepAlive => _keepAliveInterval > TimeSpan.Zero;

    private static TimeSpan ValidKeepAlive(TimeSpan value) =>
        value >= TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Zero, Timeout.InfiniteTimeSpan or a positive time.");

    /// <summary>
    /// When set, a message larger than this is delivered in parts of this size as it arrives
    /// (<see cref="WebSocketMessage.EndOfMessage"/> false until the last), so it never has to be held
    /// whole; raise <see cref="MaxMessageSize"/> to match. Default: whole messages only.
    /// </summary>
    public int? ReceiveChunkSize
    {
        get => _receiveChunkSize;
        set => _receiveChunkSize = value is null or > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "A chunk holds at least one byte.");
    }

    private int? _receiveChunkSize;

    /// <summary>
    /// permessage-deflate (RFC 7692): whether to offer (client) or accept (server) it, its parameters,
    /// the compression level and the size below which messages go out uncompressed. Off by default on
    /// the server, as in Node's ws: each compressed connection holds about 300 KB of zlib state at
    /// window 15 (a 256 KB compressor and a 44 KB decompressor).
    /// </summary>
    public Protocol.Deflate.PerMessageDeflateOptions Compression { get; set; } = new();

    /// <summary>A limit on how fast the peer may send, and what happens past it. Default: none.</summary>
    public ReceiveRateLimit ReceiveRateLimit { get; set; } = new();

    /// <summary>
    /// High-water mark of bytes accepted for sending but not yet written to the socket
    /// (<see cref="WebSocketConnection.BufferedAmount"/>). A broadcast that would pass it applies
    /// <see cref="SlowConsumerPolicy"/> to this connection instead of waiting for it. Default 4 MiB.
    /// </summary>
    public long MaxBufferedBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>What a broadcast does with a connection over <see cref="MaxBufferedBytes"/>. Default: drop the message for it.</summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; set; } = SlowConsumerPolicy.DropMessage;

    internal WebSocketConnectionOptions Clone()
    {
        var copy = (WebSocketConnectionOptions)MemberwiseClone();
        copy._protocolOptions = null;
        // The copy is what live connections read (an endpoint's frozen options, or one client's): a nested
        // options object left shared would let the caller change them under those connections.
        copy.Compression = Compression.Clone();
        copy.ReceiveRateLimit = ReceiveRateLimit.Clone();
        return copy;
    }

    // The protocol's settings, shared by the connections of these options (an endpoint's frozen copy)
    // instead of one per connection; rebuilt if they were changed since.
    private WebSocketProtocolOptions? _protocolOptions;

    internal WebSocketProtocolOptions ProtocolOptions()
    {
        var cached = Volatile.Read(ref _protocolOptions);
        if (cached is null || cached.MaxMessageSize != MaxMessageSize || cached.MaxFragments != MaxFragments
            || cached.ReceiveChunkSize != ReceiveChunkSize || cached.CompressionLevel != Compression.CompressionLevel
            || cached.MinMessageSizeToCompress != Compression.MinMessageSizeToCompress || cached.MemoryLevel != Compression.MemoryLevel)
        {
            cached = new WebSocketProtocolOptions
            {
                MaxMessageSize = MaxMessageSize,
                MaxFragments = MaxFragments,
                ReceiveChunkSize = ReceiveChunkSize,
                CompressionLevel = Compression.CompressionLevel,
                MinMessageSizeToCompress = Compression.MinMessageSizeToCompress,
                MemoryLevel = Compression.MemoryLevel,
            };
            Volatile.Write(ref _protocolOptions, cached);
        }
        return cached;
    }
}
