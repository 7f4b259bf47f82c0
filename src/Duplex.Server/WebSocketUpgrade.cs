using System.IO.Pipelines;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex.Server;

/// <summary>
/// The server side of the opening handshake on ASP.NET Core, then the connection's life: judges the
/// request (RFC 6455 §4.2.1), applies the endpoint's policy, upgrades, and runs the handler on a
/// <see cref="WebSocketConnection"/> over Kestrel's request and response pipes.
/// </summary>
internal sealed class WebSocketUpgrade
{
    private readonly Func<WebSocketConnection, HttpContext, Task> _handler;
    private readonly WebSocketEndpointOptions _options;
    private readonly HandshakeLimiter _limiter;

    public WebSocketUpgrade(Func<WebSocketConnection, HttpContext, Task> handler, WebSocketEndpointOptions options, WebSocketConnectionRegistry registry,
        Func<WebSocketConnection, Task>? contextFreeHandler = null)
    {
        _handler = handler;
        _options = options;
        Registry = registry;
        _limiter = new HandshakeLimiter(options.Limits);
        ContextFreeHandler = contextFreeHandler;
    }

    /// <summary>The handler, when it needs no <see cref="HttpContext"/>: such an endpoint may take the connection-level fast path.</summary>
    internal Func<WebSocketConnection, Task>? ContextFreeHandler { get; }

    /// <summary>For an endpoint whose handler takes the <see cref="HttpContext"/>: the requests it serves on the fast path, and how.</summary>
    internal FastPathEndpoint? FastPath { get; init; }

    internal WebSocketEndpointOptions Options => _options;

    /// <summary>Where the endpoint's connections are counted (for MaxConnections) and registered while open.</summary>
    internal WebSocketConnectionRegistry Registry { get; }

    /// <summary>
    /// The endpoint's connection options as of its first connection, shared by all its connections, and
    /// what the handshake negotiates from: a deep copy, so later changes to the endpoint's options reach
    /// neither the connections nor their negotiation.
    /// </summary>
    internal WebSocketConnection.FrozenOptions ConnectionOptions =>
        new(LazyInitializer.EnsureInitialized(ref _connectionOptions, () => _options.Connection.Clone()));

    private WebSocketConnectionOptions? _connectionOptions;

    internal HandshakeLimiter Limiter => _limiter;

    public async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Duplex.Server") ?? NullLogger.Instance;
        var request = context.Request;
        var headers = request.Headers;
        var handshake = new HandshakeRequest
        {
            Method = request.Method,
            Protocol = request.Protocol,
            Host = headers.Host.ToArray(),
            Upgrade = headers.Upgrade.ToArray(),
            Connection = headers.Connection.ToArray(),
            Key = headers.SecWebSocketKey.ToArray(),
            Version = headers.SecWebSocketVersion.ToArray(),
            Protocols = headers.SecWebSocketProtocol.ToArray(),
            Origin = headers.Origin.Count > 0 ? headers.Origin.ToString() : null,
        };
        var upgradeFeature = context.Features.Get<IHttpUpgradeFeature>();
        // RFC 8441: over HTTP/2 a WebSocket is an extended CONNECT with :protocol = websocket, no key.
        var connectFeature = context.Features.Get<IHttpExtendedConnectFeature>();
        bool http2 = connectFeature?.IsExtendedConnect == true;
        var rejection = http2 ? ServerHandshake.ValidateExtendedConnect(connectFeature!.Protocol, handshake) : ServerHandshake.Validate(handshake);
        if (rejection is null && !http2 && (upgradeFeature is null || !upgradeFeature.IsUpgradableRequest))
            rejection = new HandshakeRejection(400, "this connection cannot be upgraded (a request body, or not HTTP/1.1)");
        if (rejection is HandshakeRejection r)
        {
            if (r.RequiresVersionHeader) context.Response.Headers.SecWebSocketVersion = ServerHandshake.SupportedVersion;
            await RejectAsync(context, logger, r.StatusCode, r.Reason).ConfigureAwait(false);
            return;
        }
        if (_options.ValidateOrigin is { } validateOrigin && !validateOrigin(handshake.Origin))
        {
            await RejectAsync(context, logger, StatusCodes.Status403Forbidden, $"origin '{handshake.Origin}' is not allowed").ConfigureAwait(false);
            return;
        }
        if (_options.OnHandshake is { } onHandshake && await onHandshake(context).ConfigureAwait(false) is HandshakeDecision decision)
        {
            await RejectAsync(context, logger, decision.StatusCode, decision.Body).ConfigureAwait(false);
            return;
        }

        var address = context.Connection.RemoteIpAddress ?? System.Net.IPAddress.None;
        if (EnterLimits(address, out bool entered) is HandshakeDecision refused)
        {
            context.Response.Headers.RetryAfter = (refused.RetryAfterSeconds ?? _options.Limits.RetryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await RejectAsync(context, logger, refused.StatusCode, refused.Body).ConfigureAwait(false);
            return;
        }
        try
        {
            await AcceptAsync(context, handshake, http2 ? () => connectFeature!.AcceptAsync().AsTask() : () => UpgradeHttp11Async(context, handshake, upgradeFeature!), logger).ConfigureAwait(false);
        }
        finally
        {
            if (entered) _limiter.Release(address);
        }
    }

    /// <summary>RFC 6455 §4.2.2: 101 with Upgrade, Connection and the accept value.</summary>
    private static Task<Stream> UpgradeHttp11Async(HttpContext context, HandshakeRequest handshake, IHttpUpgradeFeature upgradeFeature)
    {
        var response = context.Response.Headers;
        response.Upgrade = "websocket";
        response.Connection = "Upgrade";
        response.SecWebSocketAccept = HandshakeKeys.ComputeAccept(handshake.Key[0]!);
        return upgradeFeature.UpgradeAsync();
    }

    private async Task AcceptAsync(HttpContext context, HandshakeRequest handshake, Func<Task<Stream>> accept, ILogger logger)
    {
        var request = context.Request;
        var headers = request.Headers;
        string? subprotocol = SelectSubprotocol(handshake);
        var compression = NegotiateCompression(headers.SecWebSocketExtensions.ToArray(), out var extensionResponse);
        if (extensionResponse is not null) context.Response.Headers.SecWebSocketExtensions = extensionResponse;

        if (subprotocol is not null) context.Response.Headers.SecWebSocketProtocol = subprotocol;
        // Kestrel answers (101, or 200 for HTTP/2) and hands over the connection as a stream. After an
        // HTTP/1.1 upgrade Request.BodyReader reads an empty body and Response.BodyWriter throws, so
        // the stream is the only way to the bytes; pipes over it give the connection its buffering.
        // Zero-byte reads: an idle connection waits for data without holding a read buffer.
        var stream = await accept().ConfigureAwait(false);
        var transport = new DuplexPipe(
            PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true, useZeroByteReads: true)),
            PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)));

        // On Linux the kernel, too, gives up on a send stuck on a dead peer (Kestrel's socket transport
        // and Duplex's both expose the socket).
        TcpUserTimeout.Apply(context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket, ConnectionOptions.Value, logger);
        var connection = new WebSocketConnection(
            ConnectionOptions,
            transport,
            WebSocketRole.Server,
            subprotocol,
            context.Connection.RemoteIpAddress is { } ip ? new System.Net.IPEndPoint(ip, context.Connection.RemotePort) : null,
            logger,
            compression: compression)
        {
            User = context.User,
        };
        // What the handshake hook (or middleware) learned about the caller travels with the connection.
        // ASP.NET Core's own middleware marks the request with "__"-prefixed keys; those stay behind.
        foreach (var (key, value) in context.Items)
            if (key is string name && !name.StartsWith("__", StringComparison.Ordinal)) connection.Items[name] = value;
        await RunAsync(connection, _handler, context, Registry, logger).ConfigureAwait(false);
    }

    /// <summary>The connection's life after the upgrade: registered, handled, closed if the handler left it open.</summary>
    internal static async Task RunAsync<TState>(WebSocketConnection connection, Func<WebSocketConnection, TState, Task> handler, TState state,
        WebSocketConnectionRegistry registry, ILogger logger, WebSocketUpgrade? limits = null, System.Net.IPAddress? limitedAddress = null)
    {
        registry.Add(connection);
        try
        {
            try
            {
                await handler(connection, state).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException && connection.State >= WebSocketState.CloseSent)
            {
                // The handler was still sending when the connection ended: not an error.
            }
            catch (Exception ex)
            {
                logger.LogError(DuplexLogEvents.HandlerFailed, ex, "WebSocket {Id}: handler failed; closing with 1011", connection.Id);
                await CloseQuietlyAsync(connection, CloseStatus.InternalServerError, "internal error").ConfigureAwait(false);
            }
            // The handler is done with the connection: end it properly if it is still open.
            if (connection.State < WebSocketState.CloseSent)
                await CloseQuietlyAsync(connection, CloseStatus.NormalClosure, null).ConfigureAwait(false);
            await connection.Completion.ConfigureAwait(false);
        }
        finally
        {
            registry.Remove(connection);
            // The fast path's per-address connection slot is held for the connection's life.
            if (limitedAddress is not null) limits!.Limiter.Release(limitedAddress);
        }
    }

    /// <summary>The subprotocol the endpoint picks from those offered, or null.</summary>
    internal string? SelectSubprotocol(HandshakeRequest handshake)
    {
        var offered = ServerHandshake.OfferedSubprotocols(handshake);
        if (_options.SelectSubprotocol is not { } select || offered.Count == 0) return null;
        var subprotocol = select(offered);
        if (subprotocol is not null && !offered.Contains(subprotocol, StringComparer.Ordinal))
            throw new InvalidOperationException($"SelectSubprotocol chose '{subprotocol}', which the client did not offer.");
        return subprotocol;
    }

    /// <summary>permessage-deflate as agreed from the client's offers, with the response header value; null for none.</summary>
    internal PerMessageDeflateParameters? NegotiateCompression(IEnumerable<string?> offers, out string? response)
    {
        response = null;
        var compression = ConnectionOptions.Value.Compression;
        if (!compression.Enabled) return null;
        if (!PerMessageDeflateNegotiation.TryAcceptOffer(offers, compression, out var agreed, out response)) return null;
        // Past the server's compression budget the connection opens uncompressed (no extension in the answer).
        if (compression.MemoryBudget is { } budget && !budget.HasRoomFor(CompressionMemoryBudget.CostOf(agreed!, WebSocketRole.Server, compression.MemoryLevel)))
        {
            response = null;
            return null;
        }
        return agreed;
    }

    private static async Task CloseQuietlyAsync(WebSocketConnection connection, CloseStatus status, string? reason)
    {
        try
        {
            await connection.CloseAsync(status, reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>
    /// The endpoint's connection caps and rates: null to go on (then, when <paramref name="entered"/>, the
    /// caller releases <paramref name="address"/> from <see cref="Limiter"/> once the connection ends), or the refusal.
    /// </summary>
    internal HandshakeDecision? EnterLimits(System.Net.IPAddress address, out bool entered)
    {
        entered = false;
        // A draining server (or one shutting down) takes no new connection, whatever the limits.
        if (Registry.DrainRefusal(_options.Limits.RetryAfterSeconds) is { } draining) return draining;
        if (!_limiter.IsActive) return null;
        var refused = _limiter.TryEnter(address, Registry.Count);
        entered = refused is null;
        return refused;
    }

    /// <summary>Counts and logs a refused upgrade, whichever path refused it.</summary>
    internal static void CountRejection(ILogger logger, object? remote, string path, int status, string reason)
    {
        DuplexMetrics.HandshakeRejections.Add(1, new KeyValuePair<string, object?>("status", status));
        logger.LogInformation(DuplexLogEvents.HandshakeRejected, "Refused WebSocket upgrade from {Remote} to {Path}: {Status} {Reason}",
            remote, path, status, reason);
    }

    private static Task RejectAsync(HttpContext context, ILogger logger, int status, string reason)
    {
        CountRejection(logger, context.Connection.RemoteIpAddress, context.Request.Path, status, reason);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(reason + "\n");
    }
}
