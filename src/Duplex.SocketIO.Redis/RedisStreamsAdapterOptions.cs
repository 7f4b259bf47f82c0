namespace Duplex.SocketIO.Redis;

/// <summary>
/// Options of the Redis streams adapter; names and defaults are <c>@socket.io/redis-streams-adapter</c>'s
/// where it has the same option (<c>streamName</c>, <c>channelPrefix</c>, <c>maxLen</c>, <c>readCount</c>,
/// <c>sessionKeyPrefix</c>). Servers that share <see cref="StreamName"/> and <see cref="ChannelPrefix"/> form one cluster.
/// </summary>
public sealed class RedisStreamsAdapterOptions
{
    /// <summary>The stream every server adds to and reads (<c>streamName</c>). Default "socket.io".</summary>
    public string StreamName { get; set; } = "socket.io";

    /// <summary>Prefix of the pub/sub channels for requests and answers (<c>channelPrefix</c>). Default "socket.io".</summary>
    public string ChannelPrefix { get; set; } = "socket.io";

    /// <summary>
    /// The stream's bound (<c>maxLen</c>): each XADD trims it with <c>MAXLEN ~</c>, so it holds about this many
    /// entries (Redis trims whole nodes, so somewhat more). A server away longer than that many entries misses the
    /// oldest, counted. Default 10 000.
    /// </summary>
    public int MaxLength { get; set; } = 10_000;

    /// <summary>Entries per XREAD, and per XRANGE page when a session is restored (<c>readCount</c>). Default 100.</summary>
    public int ReadCount { get; set; } = 100;

    /// <summary>
    /// How long the reader waits after a read that was not full before reading again. StackExchange.Redis does
    /// not support blocking commands (the reference's <c>XREAD BLOCK</c>), so the reader polls: a broadcast
    /// reaches other servers up to this much later (half on average). Default 5 ms.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Prefix of the key a disconnected session is kept under, with recovery on (<c>sessionKeyPrefix</c>). Default "sio:session:".</summary>
    public string SessionKeyPrefix { get; set; } = "sio:session:";

    /// <summary>
    /// How long a request to the other servers (fetch, server-side emit with acks) waits, and the longest an emit
    /// waits for room among the entries waiting for Redis. Default 5 s, the reference's.
    /// </summary>
    public TimeSpan RequestsTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// At most this many entries wait to be added to the stream (all namespaces). When they are at the bound, an
    /// emit waits for room while Redis is up (at most <see cref="RequestsTimeout"/>); while Redis is away, or after
    /// that wait, the entry is dropped, logged once and counted (<c>duplex.socketio.redis.errors</c>, kind
    /// "buffer-full"). Default 10 000.
    /// </summary>
    public int MaxBufferedMessages { get; set; } = 10_000;
}
