using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Duplex;

/// <summary>
/// How <see cref="WebSocketClient.ConnectAsync"/> opens a connection: request headers, subprotocols,
/// the connect timeout, TLS, and the options of the connection once open.
/// </summary>
public sealed class WebSocketClientOptions
{
    /// <summary>Extra request headers (Authorization, Cookie, Origin …).</summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>Subprotocols to offer, in order of preference.</summary>
    public IList<string> Subprotocols { get; } = new List<string>();

    /// <summary>
    /// Bound on TCP connect, TLS and the opening handshake together; past it the connect throws
    /// <see cref="TimeoutException"/>. Default 10 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Judges the server's certificate for wss://; null means the system's validation.</summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; set; }

    /// <summary>Certificates to offer when the server asks for one (mutual TLS).</summary>
    public X509CertificateCollection? ClientCertificates { get; set; }

    /// <summary>
    /// Whether to connect through a proxy: <see cref="Proxy"/>, or when that is null the environment's
    /// (<c>HTTP_PROXY</c> for ws://, <c>HTTPS_PROXY</c> for wss://, <c>ALL_PROXY</c>, <c>NO_PROXY</c>, as
    /// <see cref="System.Net.Http.HttpClient.DefaultProxy"/> reads them). Default true; false always
    /// connects directly. Not used with <see cref="UnixSocketPath"/> or <see cref="ConnectCallback"/>.
    /// </summary>
    public bool UseProxy { get; set; } = true;

    /// <summary>
    /// The proxy to tunnel through (<c>http://</c> with HTTP CONNECT, <c>socks5://</c> or <c>socks5h://</c>
    /// with SOCKS5, host names resolved by the proxy with <c>socks5h</c>); its <see cref="IWebProxy.Credentials"/>
    /// or the proxy URI's <c>user:password@</c> authenticate (Basic for HTTP, RFC 1929 for SOCKS5).
    /// Null (the default): the environment's proxy, when <see cref="UseProxy"/>.
    /// </summary>
    public IWebProxy? Proxy { get; set; }

    /// <summary>
    /// How many redirects (301, 302, 303, 307, 308 with a <c>Location</c>) the opening handshake follows.
    /// Default 0, as browsers and ws: a redirect fails the connect with <see cref="Protocol.HandshakeCheck.Status"/>.
    /// A redirect from wss:// to ws:// is never followed; one to another host drops the
    /// <c>Authorization</c> and <c>Cookie</c> headers of <see cref="Headers"/>.
    /// </summary>
    public int MaxRedirects
    {
        get => _maxRedirects;
        set => _maxRedirects = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "MaxRedirects cannot be negative.");
    }
    private int _maxRedirects;

    /// <summary>
    /// Cookies: those that match the URI are sent with the handshake, and the server's
    /// <c>Set-Cookie</c> answers (101 and redirects) are stored. Null (the default): none.
    /// </summary>
    public CookieContainer? Cookies { get; set; }

    /// <summary>
    /// Connect to this Unix domain socket instead of the URI's host and port (the URI still gives the
    /// request target and Host header). A <c>ws+unix:///path/to.sock:/resource</c> URI does the same
    /// without this option. Null (the default): TCP.
    /// </summary>
    public string? UnixSocketPath { get; set; }

    /// <summary>
    /// Opens the byte stream to the server instead of the client's own TCP connect: custom DNS, a
    /// socket with special options, an in-memory transport. TLS (for wss://) and the handshake then run
    /// over the returned stream; a <see cref="System.Net.Sockets.NetworkStream"/> lends its socket to
    /// the connection (remote endpoint, TCP_USER_TIMEOUT). Null (the default): the client connects.
    /// </summary>
    public Func<WebSocketConnectContext, CancellationToken, ValueTask<Stream>>? ConnectCallback { get; set; }

    /// <summary>
    /// The HTTP version of the opening handshake: 1.1 (the default; GET with Upgrade, RFC 6455), or 2.0
    /// for a WebSocket over HTTP/2 (RFC 8441: an extended CONNECT on one stream of an HTTP/2
    /// connection; h2 over TLS for wss://, h2c with prior knowledge for ws://). Anything else is 1.1.
    /// </summary>
    public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version11;

    /// <summary>
    /// With <see cref="HttpVersion"/> 2.0: <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionExact"/>
    /// (the default) fails when the server does not do WebSockets over HTTP/2;
    /// <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrLower"/> then opens it over HTTP/1.1.
    /// </summary>
    public System.Net.Http.HttpVersionPolicy HttpVersionPolicy { get; set; } = System.Net.Http.HttpVersionPolicy.RequestVersionExact;

    /// <summary>
    /// For HTTP/2 WebSockets: the invoker whose connections carry them, so that several WebSockets (and
    /// other requests) share one HTTP/2 connection, as with <c>ClientWebSocket.ConnectAsync(uri, invoker)</c>.
    /// Null (the default): a handler of its own per WebSocket, made from these options (TLS, proxy,
    /// cookies, <see cref="ConnectCallback"/>).
    /// </summary>
    public System.Net.Http.HttpMessageInvoker? HttpInvoker { get; set; }

    /// <summary>Limits of the connection once open. The client offers permessage-deflate by default.</summary>
    public WebSocketConnectionOptions Connection { get; set; } = new() { Compression = { Enabled = true } };

    /// <summary>Where the connection logs (protocol and transport errors, keep-alive timeouts); null logs nothing.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Adds a request header to <see cref="Headers"/> and returns these options, for chaining. A name
    /// with CR, LF or ':', or a value with CR or LF, makes the connect fail with <see cref="ArgumentException"/>.
    /// </summary>
    public WebSocketClientOptions AddHeader(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }
}
