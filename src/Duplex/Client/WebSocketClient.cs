using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex;

/// <summary>
/// Opens client connections: ws:// over TCP, wss:// over TLS (with SNI), IPv4 and IPv6, through HTTP
/// CONNECT and SOCKS5 proxies (the environment's by default), over Unix domain sockets, or over a stream
/// of your own; follows redirects and keeps cookies when asked to.
/// </summary>
public static class WebSocketClient
{
    /// <summary>
    /// Connects and performs the opening handshake (RFC 6455 §4.1). Throws
    /// <see cref="WebSocketHandshakeException"/> when the server's answer fails a check (or the server
    /// hangs up before answering), <see cref="TimeoutException"/> when
    /// <see cref="WebSocketClientOptions.ConnectTimeout"/> passes, whichever step it was in (TCP connect,
    /// TLS or the handshake; the message names it), and the socket's or TLS's own exception when the
    /// network fails otherwise. Cancelling <paramref name="cancellationToken"/> throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static async Task<WebSocketConnection> ConnectAsync(Uri uri, WebSocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WebSocketClientOptions();
        if (!IsWebSocketScheme(uri.Scheme))
            throw new ArgumentException($"Unsupported scheme '{uri.Scheme}': use ws://, wss://, ws+unix:// or wss+unix://.", nameof(uri));
        if (!string.IsNullOrEmpty(uri.Fragment))
            throw new ArgumentException("A WebSocket URI has no fragment (RFC 6455 §3).", nameof(uri));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        // One exception type for a timeout in any step, so that a caller (or a retry policy) need not
        // know where it struck; the step is in the message.
        string step = "the TCP connect";
        IReadOnlyList<KeyValuePair<string, string>> headers = options.Headers.ToArray();
        var current = uri;
        try
        {
            for (int redirects = 0; ; redirects++)
            {
                var (connection, location) = await AttemptAsync(current, headers, options, s => step = s, redirects < options.MaxRedirects, timeout.Token).ConfigureAwait(false);
                if (connection is not null) return connection;
                var next = RedirectTarget(current, location!);
                // Credentials meant for one origin do not follow the client to another (as ws does).
                if (!string.Equals(next.IdnHost, current.IdnHost, StringComparison.OrdinalIgnoreCase) || next.Port != current.Port)
                    headers = headers.Where(h => !h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && !h.Key.Equals("Cookie", StringComparison.OrdinalIgnoreCase)).ToArray();
                current = next;
            }
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {uri} timed out in {step}: not done within {options.ConnectTimeout}.", ex);
        }
    }

    private static bool IsWebSocketScheme(string scheme) => scheme is "ws" or "wss" or "http" or "https" or "ws+unix" or "wss+unix";

    private static bool IsSecure(Uri uri) => uri.Scheme is "wss" or "https" or "wss+unix";

    /// <summary>Where a 3xx sends the client: its Location against the current URI, as ws:// or wss://; refuses a downgrade.</summary>
    private static Uri RedirectTarget(Uri current, string location)
    {
        if (!Uri.TryCreate(HttpUri(current), location, out var target))
            throw new WebSocketHandshakeException(HandshakeCheck.Redirect, $"the redirect's Location '{location}' is not a URI");
        var scheme = target.Scheme switch
        {
            "http" or "ws" => "ws",
            "https" or "wss" => "wss",
            _ => throw new WebSocketHandshakeException(HandshakeCheck.Redirect, $"the redirect goes to '{target}', which is not a WebSocket URI"),
        };
        if (IsSecure(current) && scheme == "ws")
            throw new WebSocketHandshakeException(HandshakeCheck.Redirect, $"the redirect from {current} to {target} would drop TLS; it is not followed");
        return new UriBuilder(target) { Scheme = scheme, Port = target.IsDefaultPort ? -1 : target.Port, Fragment = "" }.Uri;
    }

    /// <summary>The http(s) URI a WebSocket URI stands for: for cookies and relative redirects.</summary>
    private static Uri HttpUri(Uri uri)
    {
        if (uri.Scheme is "ws+unix" or "wss+unix")
        {
            var (_, target) = ClientTransport.SplitUnixUri(uri);
            return new Uri((uri.Scheme == "wss+unix" ? "https://localhost" : "http://localhost") + target);
        }
        var builder = new UriBuilder(uri) { Scheme = IsSecure(uri) ? "https" : "http" };
        if (uri.IsDefaultPort || (uri.Scheme == "ws" && uri.Port == 80) || (uri.Scheme == "wss" && uri.Port == 443)) builder.Port = -1;
        return builder.Uri;
    }

    /// <summary>One connect and handshake: the open connection, or the Location of a redirect to follow.</summary>
    private static async Task<(WebSocketConnection? Connection, string? Location)> AttemptAsync(Uri uri, IReadOnlyList<KeyValuePair<string, string>> headers,
        WebSocketClientOptions options, Action<string> step, bool mayRedirect, CancellationToken token)
    {
        if (options.HttpVersion.Major >= 2 && uri.Scheme is "ws" or "wss" or "http" or "https" && options.UnixSocketPath is null
            && await Http2WebSocketClient.TryConnectAsync(uri, headers, options, step, token).ConfigureAwait(false) is { } overHttp2)
            return (overHttp2, null);
        bool secure = IsSecure(uri);
        var httpUri = HttpUri(uri);
        var host = uri.Scheme is "ws+unix" or "wss+unix" ? "localhost" : uri.DnsSafeHost;
        int port = uri.Scheme is "ws+unix" or "wss+unix" ? (secure ? 443 : 80) : uri.IsDefaultPort ? (secure ? 443 : 80) : uri.Port;
        var (stream, socket) = await ClientTransport.OpenAsync(uri, host, port, options, step, token).ConfigureAwait(false);
        bool success = false;
        try
        {
            if (secure)
            {
                step("the TLS handshake");
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback,
                    ClientCertificates = options.ClientCertificates,
                }, token).ConfigureAwait(false);
            }

            step("the WebSocket handshake");
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true));
            var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
            var deflate = options.Connection.Compression;
            var offer = PerMessageDeflateNegotiation.CreateOffer(deflate);
            string[] extensions = offer is null ? [] : [PerMessageDeflateNegotiation.ExtensionName];
            var handshake = new ClientHandshake(HandshakeKeys.CreateKey(), options.Subprotocols.ToArray(), extensions);
            var requestUri = uri.Scheme is "ws+unix" or "wss+unix" ? new Uri((secure ? "wss://localhost" : "ws://localhost") + httpUri.PathAndQuery) : uri;
            await writer.WriteAsync(handshake.BuildRequest(requestUri, WithCookies(headers, options.Cookies, httpUri), offer), token).ConfigureAwait(false);
            var head = await ReadResponseHeadAsync(reader, token).ConfigureAwait(false);
            if (options.Cookies is { } jar && head.Headers.TryGetValue("Set-Cookie", out var setCookie))
            {
                try { jar.SetCookies(httpUri, setCookie); }
                catch (CookieException) { } // a cookie the container refuses is not the handshake's failure
            }
            if (head.StatusCode is 301 or 302 or 303 or 307 or 308 && options.MaxRedirects > 0)
            {
                if (!mayRedirect)
                    throw new WebSocketHandshakeException(HandshakeCheck.Redirect, $"the server answered {head.StatusCode} after {options.MaxRedirects} redirects: not following more than {options.MaxRedirects} redirects", head.StatusCode, head.Headers);
                if (!head.Headers.TryGetValue("Location", out var location) || location.Length == 0)
                    throw new WebSocketHandshakeException(HandshakeCheck.Redirect, $"the server answered {head.StatusCode} without a Location", head.StatusCode, head.Headers);
                return (null, location);
            }
            var (subprotocol, accepted) = handshake.Validate(head);
            PerMessageDeflateParameters? compression = null;
            if (offer is not null && !PerMessageDeflateNegotiation.TryAcceptResponse(accepted, deflate, out compression, out var error))
                throw new WebSocketHandshakeException(HandshakeCheck.Extension, "WebSocket handshake failed: " + error, head.StatusCode, head.Headers);

            // A send stuck on a dead server is aborted by the kernel too (Linux).
            TcpUserTimeout.Apply(socket, options.Connection, options.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            var ownedStream = stream;
            success = true;
            return (new WebSocketConnection(
                new DuplexPipe(reader, writer),
                WebSocketRole.Client,
                options.Connection,
                subprotocol,
                socket?.RemoteEndPoint,
                options.Logger,
                closeTransport: () => ownedStream.DisposeAsync(),
                compression: compression) { HandshakeResponse = head }, null);
        }
        finally
        {
            if (!success) await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The request headers with the container's cookies for the URI joined into one Cookie header.</summary>
    private static IEnumerable<KeyValuePair<string, string>> WithCookies(IReadOnlyList<KeyValuePair<string, string>> headers, CookieContainer? jar, Uri httpUri)
    {
        var cookies = jar?.GetCookieHeader(httpUri);
        if (string.IsNullOrEmpty(cookies)) return headers;
        var result = new List<KeyValuePair<string, string>>(headers.Count + 1);
        bool merged = false;
        foreach (var header in headers)
        {
            if (!merged && header.Key.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
            {
                result.Add(new(header.Key, header.Value + "; " + cookies));
                merged = true;
            }
            else result.Add(header);
        }
        if (!merged) result.Add(new("Cookie", cookies));
        return result;
    }

    private static async Task<HttpResponseHead> ReadResponseHeadAsync(PipeReader reader, CancellationToken token)
    {
        while (true)
        {
            var result = await reader.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            var bytes = buffer.Length > HttpResponseHead.MaxLength + 4 ? buffer.Slice(0, HttpResponseHead.MaxLength + 4) : buffer;
            // Heads are small: one copy into a contiguous array is cheaper than parsing a sequence.
            byte[] flat = bytes.IsSingleSegment ? [] : bytes.ToArray();
            ReadOnlySpan<byte> span = bytes.IsSingleSegment ? bytes.FirstSpan : flat;
            if (HttpResponseHead.TryParse(span, out var head, out int consumed))
            {
                reader.AdvanceTo(buffer.GetPosition(consumed));
                return head!;
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new WebSocketHandshakeException(HandshakeCheck.Incomplete, "the server closed the connection before the handshake finished");
        }
    }
}
