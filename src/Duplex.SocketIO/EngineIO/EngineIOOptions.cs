using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.EngineIO;

/// <summary>Engine.IO server options; the defaults are the reference server's.</summary>
public class EngineIOOptions
{
    /// <summary>How often the server pings each session. Default 25 s.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromMilliseconds(25000);

    /// <summary>How long after a ping the pong may take before the session is closed ("ping timeout"). Default 20 s.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromMilliseconds(20000);

    /// <summary>How long a transport upgrade may take before the new transport is dropped. Default 10 s.</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromMilliseconds(10000);

    /// <summary>
    /// The largest polling request body and WebSocket message accepted (larger bodies answer 413);
    /// announced to clients as <c>maxPayload</c>. Default 1 MB (1e6 bytes).
    /// </summary>
    public int MaxHttpBufferSize { get; set; } = 1_000_000;

    private long? _maxBufferedBytes;

    /// <summary>
    /// The most bytes a session holds for its client, queued or being written (<see cref="EngineIOSession.BufferedAmount"/>),
    /// beyond which <see cref="SlowConsumerPolicy"/> applies. An empty buffer takes one send of any size.
    /// Default 8 × <see cref="MaxHttpBufferSize"/> (8 MB): room for several packets of the largest size a
    /// client may send, far beyond what a client that reads keeps waiting. The reference does not bound it.
    /// </summary>
    public long MaxBufferedBytes
    {
        get => _maxBufferedBytes ?? 8L * MaxHttpBufferSize;
        set => _maxBufferedBytes = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The limit must be positive.");
    }

    /// <summary>
    /// The most packets a session holds for its client (a Socket.IO packet with attachments counts one per
    /// part), beyond which <see cref="SlowConsumerPolicy"/> applies. Default 10,000: ten seconds of a
    /// 1,000-messages-a-second stream, which a client that reads never has waiting; small packets cost
    /// memory and time per packet that <see cref="MaxBufferedBytes"/> alone would not bound.
    /// </summary>
    public int MaxBufferedPackets
    {
        get;
        set => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The limit must be positive.");
    } = 10_000;

    /// <summary>
    /// What a send that would pass <see cref="MaxBufferedBytes"/> or <see cref="MaxBufferedPackets"/> does
    /// (volatile packets are dropped before that, whenever the transport is not writable):
    /// <see cref="SlowConsumerPolicy.Close"/> (the default) closes the session (reason "slow consumer"; its
    /// client sees "transport close" and may reconnect); <see cref="SlowConsumerPolicy.DropMessage"/> drops
    /// the packet and keeps the session. Both are counted (<c>duplex.socketio.engine.dropped</c>,
    /// <c>duplex.socketio.engine.slow_consumers</c>) and logged once per session. The default differs from
    /// a plain WebSocket broadcast's (drop): a Socket.IO client expects every non-volatile packet, in
    /// order, or a disconnect — a silent gap would break acknowledgements and state.
    /// </summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; set; } = SlowConsumerPolicy.Close;

    /// <summary>
    /// HTTP compression of polling responses (the reference's <c>httpCompression</c>, on by default there
    /// with a 1024-byte threshold, and so here): a response of at least <see cref="EngineIOHttpCompressionOptions.Threshold"/>
    /// bytes is gzip- or deflate-encoded when the request's Accept-Encoding allows it, unless every packet
    /// in it was sent with <c>Compress(false)</c>. Null turns it off.
    /// </summary>
    public EngineIOHttpCompressionOptions? HttpCompression { get; set; } = new();

    /// <summary>The transports allowed: "polling" and/or "websocket". Default both.</summary>
    public IList<string> Transports { get; set; } = new List<string> { "polling", "websocket" };

    /// <summary>Whether polling sessions are offered the upgrade to WebSocket. Default true.</summary>
    public bool AllowUpgrades { get; set; } = true;

    /// <summary>Cross-origin answers for polling requests; null (the default) sends no CORS headers.</summary>
    public EngineIOCorsOptions? Cors { get; set; }

    /// <summary>
    /// Judges each handshake request; return null to accept or a message to refuse with
    /// 403 <c>{"code":4,"message":…}</c>.
    /// </summary>
    public Func<HttpContext, ValueTask<string?>>? AllowRequest { get; set; }

    /// <summary>When set, the handshake answer sets a cookie with this name holding the session id (the reference's <c>cookie</c> option).</summary>
    public string? CookieName { get; set; }

    /// <summary>How long a closed polling session waits for the client's next poll to deliver its last packets. Default 5 s.</summary>
    public TimeSpan CloseDeliveryTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Settings of the WebSocket transport's endpoint, applied after Engine.IO's own (no WebSocket-level
    /// keep-alive, messages up to <see cref="MaxHttpBufferSize"/>): permessage-deflate (the reference's
    /// <c>perMessageDeflate</c>, off by default as there), receive rate limits, the slow-consumer policy,
    /// handshake limits, the close timeout. Null leaves Engine.IO's defaults.
    /// </summary>
    public Action<Duplex.Server.WebSocketEndpointOptions>? ConfigureWebSocket { get; set; }
}

/// <summary>HTTP compression of polling responses (<see cref="EngineIOOptions.HttpCompression"/>).</summary>
public sealed class EngineIOHttpCompressionOptions
{
    /// <summary>Responses shorter than this many bytes go out as they are. Default 1024, the reference's.</summary>
    public int Threshold { get; set; } = 1024;

    /// <summary>The compression level. Default <see cref="System.IO.Compression.CompressionLevel.Optimal"/> (zlib's default, as the reference's).</summary>
    public System.IO.Compression.CompressionLevel Level { get; set; } = System.IO.Compression.CompressionLevel.Optimal;
}

/// <summary>
/// CORS for the polling transport, as the npm <c>cors</c> middleware the reference server uses:
/// <c>Origins = ["*"]</c> answers every origin.
/// </summary>
public sealed class EngineIOCorsOptions
{
    /// <summary>Allowed origins; "*" allows any. Default "*".</summary>
    public IList<string> Origins { get; set; } = new List<string> { "*" };

    /// <summary>Sends Access-Control-Allow-Credentials (the origin is then echoed instead of "*").</summary>
    public bool Credentials { get; set; }

    /// <summary>The Access-Control-Allow-Methods of preflight answers. Default "GET,HEAD,PUT,PATCH,POST,DELETE", the <c>cors</c> package's.</summary>
    public string Methods { get; set; } = "GET,HEAD,PUT,PATCH,POST,DELETE";

    /// <summary>Allowed request headers; null echoes what the preflight asks for.</summary>
    public string? AllowedHeaders { get; set; }

    internal string? AllowOrigin(string? origin)
    {
        bool any = Origins.Contains("*");
        if (any && !Credentials) return "*";
        if (origin is null) return null;
        return any || Origins.Contains(origin, StringComparer.OrdinalIgnoreCase) ? origin : null;
    }
}
