namespace Duplex.Protocol;

/// <summary>
/// The limits a <see cref="WebSocketProtocol"/> enforces on what it receives, and how it compresses what
/// it sends. Immutable once built, so one instance serves every connection of an endpoint. The defaults
/// here are Duplex's defaults everywhere (<see cref="WebSocketConnectionOptions"/> starts from them).
/// </summary>
public sealed class WebSocketProtocolOptions
{
    /// <summary>Default of <see cref="MaxMessageSize"/>: 64 MiB.</summary>
    public const long DefaultMaxMessageSize = 64 * 1024 * 1024;

    /// <summary>Default of <see cref="MaxFragments"/>: 131,072.</summary>
    public const int DefaultMaxFragments = 128 * 1024;

    /// <summary>Largest <see cref="MaxMessageSize"/>: a message is assembled in one array.</summary>
    public const long MaxMessageSizeLimit = int.MaxValue - 64;

    /// <summary>The defaults, shared.</summary>
    public static WebSocketProtocolOptions Default { get; } = new();

    private readonly long _maxMessageSize = DefaultMaxMessageSize;
    private readonly int _maxFragments = DefaultMaxFragments;
    private readonly int? _receiveChunkSize;
    private readonly int _compressionLevel = 6;
    private readonly int _minMessageSizeToCompress = 128;

    /// <summary>
    /// Largest message received (the sum of its frames' payloads, after inflation when compressed);
    /// larger fails the connection with 1009. Between 1 byte and <see cref="MaxMessageSizeLimit"/>.
    /// </summary>
    public long MaxMessageSize
    {
        get => _maxMessageSize;
        init => _maxMessageSize = value is > 0 and <= MaxMessageSizeLimit
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "Between 1 byte and 2 GiB.");
    }

    /// <summary>
    /// Most frames one received message may have; more fails with 1008. The size limit alone would let
    /// a peer send endless empty continuation frames.
    /// </summary>
    public int MaxFragments
    {
        get => _maxFragments;
        init => _maxFragments = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "At least one fragment.");
    }

    /// <summary>
    /// When set, a received message larger than this is handed out in parts of this size as it arrives
    /// (<see cref="WebSocketEvent.MessagePart"/>), so it is never held whole. Null: whole messages only.
    /// </summary>
    public int? ReceiveChunkSize
    {
        get => _receiveChunkSize;
        init => _receiveChunkSize = value is null or > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "A chunk holds at least one byte.");
    }

    /// <summary>zlib level (0–9) for messages sent compressed, when permessage-deflate was agreed.</summary>
    public int CompressionLevel
    {
        get => _compressionLevel;
        init => _compressionLevel = value is >= 0 and <= 9 ? value : throw new ArgumentOutOfRangeException(nameof(value), "zlib levels are 0 to 9.");
    }

    /// <summary>zlib memLevel (1–9) of this connection's own compressor, when it keeps its context.</summary>
    public int MemoryLevel
    {
        get => _memoryLevel;
        init => _memoryLevel = value is >= 1 and <= 9 ? value : throw new ArgumentOutOfRangeException(nameof(value), "zlib memory levels are 1 to 9.");
    }

    private readonly int _memoryLevel = 8;

    /// <summary>Messages shorter than this go out uncompressed even when permessage-deflate was agreed.</summary>
    public int MinMessageSizeToCompress
    {
        get => _minMessageSizeToCompress;
        init => _minMessageSizeToCompress = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "Not negative.");
    }
}
