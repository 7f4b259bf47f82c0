using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Client;

/// <summary>Options of a <see cref="SocketIOClient"/>; the defaults are the npm socket.io-client's.</summary>
public sealed class SocketIOClientOptions
{
    /// <summary>The server's Engine.IO path. Default "/socket.io/".</summary>
    public string Path { get; set; } = "/socket.io/";

    /// <summary>
    /// Transports in the order to try: the first opens the session; with "polling" first and
    /// "websocket" listed, the session upgrades when the server offers it. Default polling, then websocket.
    /// </summary>
    public IList<string> Transports { get; set; } = new List<string> { "polling", "websocket" };

    /// <summary>Whether a polling session upgrades to WebSocket when it can. Default true.</summary>
    public bool Upgrade { get; set; } = true;

    /// <summary>
    /// Whether a handshake that fails on one transport is tried on the next of <see cref="Transports"/>
    /// (npm's <c>tryAllTransports</c>). Default false, as npm. Either way, a server that answers
    /// "Transport unknown" (it does not serve that transport, e.g. a WebSocket-only server asked for
    /// polling) is tried on the next transport at once, so such a server is reachable with the defaults.
    /// </summary>
    public bool TryAllTransports { get; set; }

    /// <summary>
    /// Whether, once a WebSocket has carried a session of this client (opened on it or upgraded to it),
    /// later sessions open on WebSocket first (npm's <c>rememberUpgrade</c>, which remembers it for the
    /// whole process; here, per <see cref="SocketIOClient"/>). A failed attempt forgets it. Default false.
    /// </summary>
    public bool RememberUpgrade { get; set; }

    /// <summary>Extra query parameters sent with every Engine.IO request.</summary>
    public IDictionary<string, string> Query { get; set; } = new Dictionary<string, string>();

    /// <summary>Extra HTTP headers sent with polling requests and the WebSocket handshake.</summary>
    public IDictionary<string, string> ExtraHeaders { get; set; } = new Dictionary<string, string>();

    /// <summary>
    /// The main namespace's <c>auth</c> payload, asked for on every connection attempt (so a token can
    /// be refreshed between reconnections). Must serialize to a JSON object, or return null for none.
    /// </summary>
    public Func<CancellationToken, ValueTask<object?>>? Auth { get; set; }

    /// <summary>Whether to reconnect after the connection is lost. Default true.</summary>
    public bool Reconnection { get; set; } = true;

    /// <summary>How many reconnection attempts before giving up. Default unlimited (<see cref="int.MaxValue"/>).</summary>
    public int ReconnectionAttempts { get; set; } = int.MaxValue;

    /// <summary>The first reconnection delay, doubled on each attempt. Default 1000 ms.</summary>
    public TimeSpan ReconnectionDelay { get; set; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>The longest reconnection delay. Default 5000 ms.</summary>
    public TimeSpan ReconnectionDelayMax { get; set; } = TimeSpan.FromMilliseconds(5000);

    /// <summary>The jitter: each delay is moved by up to this fraction of itself, up or down. Default 0.5.</summary>
    public double RandomizationFactor { get; set; } = 0.5;

    /// <summary>How long one connection attempt (handshake and namespace CONNECT) may take. Default 20 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromMilliseconds(20000);

    /// <summary>How long the upgrade to WebSocket may take before the session stays on polling. Default 10 s.</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The deadline of acknowledgements that have none of their own; null (the default) waits until disconnect.</summary>
    public TimeSpan? AckTimeout { get; set; }

    /// <summary>
    /// At-least-once delivery (npm's <c>retries</c>): above 0, every non-volatile emit of a namespace waits
    /// its turn in a queue and goes out with an acknowledgement id, one at a time, in order; an attempt
    /// that is not acknowledged within <see cref="AckTimeout"/> (or the emitter's own timeout), or that
    /// the connection's end cuts short, is sent again (under a new id), up to this many more times; the
    /// head of the queue is also sent again on each reconnection. The server's handlers must acknowledge,
    /// and may see an emit more than once. The queue holds at most <see cref="MaxBufferedEmits"/> emits.
    /// Default 0 (off), as npm.
    /// </summary>
    public int Retries { get; set; }

    /// <summary>
    /// How many emits each namespace holds while disconnected, to send on (re)connection; past it
    /// <c>EmitAsync</c> throws <see cref="InvalidOperationException"/>. Default 1000.
    /// </summary>
    public int MaxBufferedEmits { get; set; } = 1000;

    /// <summary>
    /// How many packets the connection's Engine.IO session holds for its transport while connected (a packet
    /// with attachments counts one per part). Past it, <c>EmitAsync</c> and <c>EmitWithAckAsync</c> throw
    /// <see cref="InvalidOperationException"/> and nothing of the emit is queued; a volatile emit and the answer
    /// to a server's acknowledgement request are dropped instead. Packets the session sends itself (pong,
    /// close, namespace connect and disconnect, emits buffered while disconnected) are not refused. Default
    /// 10,000, as the server's <c>MaxBufferedPackets</c>: a transport that keeps up never has that many waiting.
    /// </summary>
    public int MaxQueuedPackets { get; set; } = 10_000;

    /// <summary>
    /// How arguments are (de)serialized. Default: System.Text.Json's web defaults (camelCase), as
    /// JavaScript peers expect. <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c> always travel as attachments.
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// How packets are written on the wire: <see cref="SocketIOParser.Default"/> (socket.io-parser, the
    /// default) or <see cref="SocketIOParser.MsgPack"/> (socket.io-msgpack-parser). It must be the server's.
    /// </summary>
    public SocketIOParser Parser { get; set => field = value ?? throw new ArgumentNullException(nameof(value)); } = SocketIOParser.Default;

    /// <summary>
    /// Whether both transports connect through a proxy: <see cref="Proxy"/>, or when that is null the
    /// environment's (<c>HTTP_PROXY</c>, <c>HTTPS_PROXY</c>, <c>ALL_PROXY</c>, <c>NO_PROXY</c>). Default true.
    /// Polling sends its requests through it (absolute-form for http://, CONNECT for https://), the
    /// WebSocket tunnels through it (<see cref="WebSocketClientOptions.Proxy"/>).
    /// </summary>
    public bool UseProxy { get; set; } = true;

    /// <summary>The proxy of both transports (HTTP; SOCKS5 too for the WebSocket). Null: the environment's, when <see cref="UseProxy"/>.</summary>
    public System.Net.IWebProxy? Proxy { get; set; }

    /// <summary>
    /// The cookies both transports send and store, shared: a cookie set on a polling answer (a load
    /// balancer's sticky-session cookie, the server's <c>io</c> cookie) goes with the WebSocket upgrade
    /// too, as in a browser. A new container per options object by default.
    /// </summary>
    public System.Net.CookieContainer Cookies { get; set => field = value ?? throw new ArgumentNullException(nameof(value)); } = new();

    /// <summary>Adjusts the HTTP handler of the polling transport (TLS validation, proxy, cookies …).</summary>
    public Action<SocketsHttpHandler>? ConfigureHttpHandler { get; set; }

    /// <summary>Adjusts the options of the WebSocket transport (TLS validation, compression …).</summary>
    public Action<WebSocketClientOptions>? ConfigureWebSocket { get; set; }

    /// <summary>Where failures of event handlers and transports are logged; null logs nothing.</summary>
    public ILogger? Logger { get; set; }
}
