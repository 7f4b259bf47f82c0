using System.IO.Pipelines;
using System.Net;
using System.Net.Http;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex;

/// <summary>
/// The client's RFC 8441 path: a WebSocket as an HTTP/2 extended CONNECT (<c>:protocol = websocket</c>)
/// through .NET's HTTP/2 stack, whose request stream then carries the RFC 6455 frames.
/// </summary>
internal static class Http2WebSocketClient
{
    /// <summary>
    /// The connection over HTTP/2, or null when the server does not do WebSockets over HTTP/2 and
    /// <see cref="WebSocketClientOptions.HttpVersionPolicy"/> allows falling back to HTTP/1.1.
    /// </summary>
    internal static async Task<WebSocketConnection?> TryConnectAsync(Uri uri, IReadOnlyList<KeyValuePair<string, string>> headers,
        WebSocketClientOptions options, Action<string> step, CancellationToken token)
    {
        bool secure = uri.Scheme is "wss" or "https";
        var target = new UriBuilder(uri) { Scheme = secure ? "https" : "http" }.Uri;
        var invoker = options.HttpInvoker;
        bool ownsInvoker = invoker is null;
        invoker ??= new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
        HttpResponseMessage? response = null;
        bool success = false;
        try
        {
            step("the HTTP/2 extended CONNECT");
            var deflate = options.Connection.Compression;
            var offer = PerMessageDeflateNegotiation.CreateOffer(deflate);
            var handshake = new ClientHandshake(HandshakeKeys.CreateKey(), options.Subprotocols.ToArray(), offer is null ? [] : [PerMessageDeflateNegotiation.ExtensionName]);
            var request = new HttpRequestMessage(HttpMethod.Connect, target)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.Protocol = "websocket";
            request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
            if (options.Subprotocols.Count > 0) request.Headers.TryAddWithoutValidation("Sec-WebSocket-Protocol", string.Join(", ", options.Subprotocols));
            if (offer is not null) request.Headers.TryAddWithoutValidation("Sec-WebSocket-Extensions", offer);
            foreach (var (name, value) in headers)
            {
                if (name.AsSpan().ContainsAny("\r\n:") || value.AsSpan().ContainsAny('\r', '\n'))
                    throw new ArgumentException($"Header '{name}' has a character that would break the request.");
                request.Headers.TryAddWithoutValidation(name, value);
            }
            try
            {
                response = await invoker.SendAsync(request, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or HttpIOException
                                       && options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrLower && !token.IsCancellationRequested)
            {
                // No HTTP/2 (ALPN chose 1.1, the server sent HTTP_1_1_REQUIRED) or no extended CONNECT: HTTP/1.1 then.
                return null;
            }
            var head = HttpResponseHead.From((int)response.StatusCode, response.ReasonPhrase,
                response.Headers.Concat(response.Content.Headers));
            if (response.StatusCode != HttpStatusCode.OK && options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrLower
                && response.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented or HttpStatusCode.HttpVersionNotSupported)
                return null;
            var (subprotocol, accepted) = handshake.ValidateExtendedConnect(head);
            PerMessageDeflateParameters? compression = null;
            if (offer is not null && !PerMessageDeflateNegotiation.TryAcceptResponse(accepted, deflate, out compression, out var error))
                throw new WebSocketHandshakeException(HandshakeCheck.Extension, "WebSocket handshake failed: " + error, head.StatusCode, head.Headers);

            // The response's stream is the HTTP/2 stream both ways (extended CONNECT).
            var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true));
            var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
            var ownedResponse = response;
            var ownedInvoker = ownsInvoker ? invoker : null;
            success = true;
            return new WebSocketConnection(
                new DuplexPipe(reader, writer),
                WebSocketRole.Client,
                options.Connection,
                subprotocol,
                null,
                options.Logger,
                closeTransport: async () =>
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    ownedResponse.Dispose();
                    ownedInvoker?.Dispose();
                },
                compression: compression) { HandshakeResponse = head };
        }
        finally
        {
            if (!success)
            {
                response?.Dispose();
                if (ownsInvoker) invoker.Dispose();
            }
        }
    }

    /// <summary>A handler for one connection, from the client's options (TLS, proxy, cookies, timeout).</summary>
    private static SocketsHttpHandler CreateHandler(WebSocketClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            UseProxy = options.UseProxy,
            Proxy = options.Proxy,
            UseCookies = options.Cookies is not null,
            AllowAutoRedirect = false,
        };
        if (options.Cookies is not null) handler.CookieContainer = options.Cookies;
        handler.SslOptions.RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback;
        handler.SslOptions.ClientCertificates = options.ClientCertificates;
        if (options.ConnectCallback is { } hook)
            handler.ConnectCallback = (context, token) => hook(new WebSocketConnectContext(context.InitialRequestMessage.RequestUri!, context.DnsEndPoint), token);
        return handler;
    }
}
