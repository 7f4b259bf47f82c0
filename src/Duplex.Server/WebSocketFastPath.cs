using System.Buffers;
using System.Collections.Frozen;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Duplex.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Duplex.Server;

/// <summary>Marks an endpoint made by <c>MapWebSocket</c>, for the connection-level fast path.</summary>
internal sealed class WebSocketEndpointMetadata(WebSocketUpgrade upgrade)
{
    public WebSocketUpgrade Upgrade { get; } = upgrade;
}

/// <summary>Kestrel listen options for Duplex's connection-level fast path.</summary>
public static class DuplexListenOptionsExtensions
{
    /// <summary>
    /// Serves WebSocket upgrades at the connection level, beneath ASP.NET Core's HTTP layer: when a new
    /// connection's first request is a plain, valid WebSocket handshake for a literal path mapped with
    /// <c>MapWebSocket(path, connection => …)</c>, Duplex answers the 101 itself and runs the connection on
    /// Kestrel's transport pipes — no HTTP/1.1 connection object, no upgrade stream, no copy between them.
    /// Duplex.SocketIO's endpoint (<c>MapSocketIO</c>, <c>MapEngineIO</c>) is served here too for sessions
    /// opened straight over WebSocket, when its options need nothing from the HTTP request.
    /// Everything else (other requests, other paths, anything unusual in the request, refusals) goes
    /// to ASP.NET Core untouched, with the bytes the fast path looked at.
    /// <para>
    /// What the fast path skips, so only endpoints that need none of it take it: middleware
    /// (<c>app.Use…</c>), authorization (endpoints with authorization metadata, or any endpoint when a
    /// fallback authorization policy exists, always go the full way), CORS and host metadata,
    /// <c>OnHandshake</c> hooks and handlers that take the <see cref="HttpContext"/>.
    /// Call it after <c>UseHttps</c> so it sees decrypted bytes.
    /// </para>
    /// </summary>
    public static ListenOptions UseDuplexFastPath(this ListenOptions listen)
    {
        var fastPath = new WebSocketFastPath(listen.ApplicationServices);
        listen.Use(next => connection => fastPath.OnConnectionAsync(connection, next));
        return listen;
    }
}

/// <summary>The connection middleware behind <see cref="DuplexListenOptionsExtensions.UseDuplexFastPath"/>.</summary>
internal sealed class WebSocketFastPath
{
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private TimeSpan _headersTimeout;
    private FrozenDictionary<string, WebSocketUpgrade>? _routes;

    // Built while Kestrel's options are being configured: what they hold is read at the first connection.
    public WebSocketFastPath(IServiceProvider services)
    {
        _services = services;
        _logger = services.GetService<ILoggerFactory>()?.CreateLogger("Duplex.Server") ?? NullLogger.Instance;
    }

    public Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        // Usually the request is already there and the handshake finishes at once: the connection's
        // life is then RunAsync's task alone, and no frame of ours is kept per open connection.
        var upgrade = UpgradeAsync(connection, next);
        if (!upgrade.IsCompletedSuccessfully) return AwaitUpgradeAsync(upgrade);
        return upgrade.Result is { } upgraded ? Run(upgraded) : Task.CompletedTask;
    }

    private async Task AwaitUpgradeAsync(ValueTask<Upgraded?> upgrade)
    {
        var upgraded = await upgrade.ConfigureAwait(false);
        // The parameter lives in this frame for the connection's whole life, and with it the finished
        // handshake's state machine (344 B per connection whose request came after the accept).
        upgrade = default;
        if (upgraded is { } running) await Run(running).ConfigureAwait(false);
    }

    private Task Run(Upgraded upgraded)
    {
        var limits = upgraded.LimitedAddress is null ? null : upgraded.Upgrade;
        if (upgraded.Request is { } request)
        {
            // An endpoint that judged the request: its handler gets what the judge saw.
            return WebSocketUpgrade.RunAsync(upgraded.WebSocket, static (c, s) => s.Endpoint.Handler(c, s.Request), (Endpoint: upgraded.Upgrade.FastPath!, Request: request),
                upgraded.Upgrade.Registry, _logger, limits, upgraded.LimitedAddress);
        }
        return WebSocketUpgrade.RunAsync(upgraded.WebSocket, static (c, handler) => handler(c), upgraded.Upgrade.ContextFreeHandler!, upgraded.Upgrade.Registry, _logger,
            limits, upgraded.LimitedAddress);
    }

    private readonly record struct Upgraded(WebSocketConnection WebSocket, WebSocketUpgrade Upgrade, IPAddress? LimitedAddress, FastPathRequest? Request);

    /// <summary>
    /// The handshake: the WebSocket when this connection was upgraded here; null when it went to ASP.NET
    /// Core, was refused, or ended first (a handshake limit's slot is then already released).
    /// </summary>
    private async ValueTask<Upgraded?> UpgradeAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var routes = _routes ??= BuildRoutes();
        if (routes.Count == 0)
        {
            await next(connection).ConfigureAwait(false);
            return null;
        }
        var input = connection.Transport.Input;
        // A connection whose request is not complete within Kestrel's request-headers timeout is dropped,
        // as the HTTP layer would. The deadline runs from the accept and covers the whole head: handing a
        // partial head to Kestrel would start its timer afresh, and a client trickling a byte a second from
        // just before the deadline would hold the connection for twice the timeout. No timer when the
        // request is already there.
        CancellationTokenSource? timeout = null;
        ReadOnlySequence<byte> buffer;
        FastPlan? plan;
        int headLength;
        HandshakeDecision? refusal;
        try
        {
            while (true)
            {
                if (!input.TryRead(out var result))
                {
                    timeout ??= new CancellationTokenSource(_headersTimeout);
                    try
                    {
                        result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        _logger.LogDebug(DuplexLogEvents.HandshakeRejected, "Connection {Id} sent no complete request within {Timeout}", connection.ConnectionId, _headersTimeout);
                        connection.Abort(new ConnectionAbortedException("no complete request within the request-headers timeout"));
                        return null;
                    }
                }
                buffer = result.Buffer;
                plan = Plan(routes, buffer, connection, out headLength, out refusal, out bool incomplete);
                if (plan is not null || !incomplete || result.IsCompleted || result.IsCanceled) break;
                // Part of a head: wait for the rest (nothing consumed, all of it examined).
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            timeout?.Dispose();
        }
        if (plan is null)
        {
            // Not ours: ASP.NET Core reads the same bytes from the start (nothing consumed, nothing examined).
            input.AdvanceTo(buffer.Start, buffer.Start);
            await next(connection).ConfigureAwait(false);
            return null;
        }
        input.AdvanceTo(buffer.GetPosition(headLength));
        if (refusal is not null)
        {
            await RefuseAsync(connection, plan.Value, refusal).ConfigureAwait(false);
            return null;
        }
        var upgrade = plan.Value.Upgrade;
        bool handedOver = false;
        try
        {
            WriteSwitchingProtocols(connection.Transport.Output, plan.Value);
            var flushed = await connection.Transport.Output.FlushAsync().ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled) return null;
            TcpUserTimeout.Apply(connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket, upgrade.ConnectionOptions.Value, _logger);
            var webSocket = new WebSocketConnection(
                upgrade.ConnectionOptions,
                connection.Transport,
                WebSocketRole.Server,
                plan.Value.Subprotocol,
                connection.RemoteEndPoint,
                _logger,
                compression: plan.Value.Compression);
            handedOver = true;
            return new Upgraded(webSocket, upgrade, plan.Value.LimitedAddress, plan.Value.Request);
        }
        finally
        {
            if (!handedOver && plan.Value.LimitedAddress is { } address) upgrade.Limiter.Release(address);
        }
    }

    private readonly record struct FastPlan(WebSocketUpgrade Upgrade, string Path, string Accept, string? Subprotocol,
        Protocol.Deflate.PerMessageDeflateParameters? Compression, string? ExtensionResponse, IPAddress? LimitedAddress, FastPathRequest? Request);

    /// <summary>
    /// Decides from the first bytes: null hands the connection to ASP.NET Core; otherwise the upgrade to
    /// perform, or (with <paramref name="refusal"/>) a limit's refusal to answer.
    /// </summary>
    private FastPlan? Plan(FrozenDictionary<string, WebSocketUpgrade> routes, ReadOnlySequence<byte> buffer, ConnectionContext connection,
        out int headLength, out HandshakeDecision? refusal, out bool incomplete)
    {
        var remote = connection.RemoteEndPoint;
        headLength = 0;
        refusal = null;
        HttpRequestHead? head;
        RequestHeadStatus status;
        if (buffer.IsSingleSegment)
        {
            status = HttpRequestHead.TryParse(buffer.FirstSpan, out head, out headLength);
        }
        else
        {
            int length = (int)Math.Min(buffer.Length, HttpRequestHead.MaxLength);
            var copy = ArrayPool<byte>.Shared.Rent(length);
            buffer.Slice(0, length).CopyTo(copy);
            status = HttpRequestHead.TryParse(copy.AsSpan(0, length), out head, out headLength);
            ArrayPool<byte>.Shared.Return(copy);
        }
        incomplete = status == RequestHeadStatus.Incomplete;
        if (status != RequestHeadStatus.Parsed || head is null) return null;
        if (!TryGetRoute(routes, head.Path, out var upgrade)) return null;
        // A body (or a framing header that announces one) is the HTTP layer's business; so are refusals.
        if (head.Value("Content-Length") is not null || head.Value("Transfer-Encoding") is not null) return null;
        var handshake = head.ToHandshakeRequest();
        if (ServerHandshake.Validate(handshake) is not null) return null;
        var options = upgrade.Options;
        if (options.ValidateOrigin is { } validateOrigin && !validateOrigin(handshake.Origin)) return null;
        // An endpoint that judges requests: before the limits, so that what it declines gets the full
        // path's answer (its own refusals come before the handshake's limits there too).
        FastPathRequest? request = null;
        if (upgrade.ContextFreeHandler is null)
        {
            request = new FastPathRequest(head, remote, connection.Features.Get<ITlsConnectionFeature>() is not null);
            if (!Accepts(upgrade.FastPath!, request, head.Path)) return null;
        }

        var address = (remote as IPEndPoint)?.Address ?? IPAddress.None;
        refusal = upgrade.EnterLimits(address, out bool entered);
        var limited = entered ? address : null;
        string? subprotocol = null;
        Protocol.Deflate.PerMessageDeflateParameters? compression = null;
        string? extensionResponse = null;
        if (refusal is null)
        {
            try
            {
                subprotocol = upgrade.SelectSubprotocol(handshake);
                compression = upgrade.NegotiateCompression(head.Values("Sec-WebSocket-Extensions"), out extensionResponse);
            }
            catch
            {
                if (limited is not null) upgrade.Limiter.Release(limited);
                return null; // the full path reports it
            }
        }
        return new FastPlan(upgrade, head.Path, HandshakeKeys.ComputeAccept(handshake.Key[0]!), subprotocol, compression, extensionResponse, limited, request);
    }

    private bool Accepts(FastPathEndpoint endpoint, FastPathRequest request, string path)
    {
        try
        {
            return endpoint.Accept(request);
        }
        catch (Exception ex)
        {
            // Not the fast path's to answer: the full path judges the request again and reports what it finds.
            _logger.LogDebug(ex, "The fast path's judge for {Path} failed; the request goes to ASP.NET Core", path);
            return false;
        }
    }

    /// <summary>
    /// The endpoint for <paramref name="path"/>; one trailing slash is ignored, as routing ignores it
    /// (clients ask for <c>/socket.io/?EIO=4…</c> of an endpoint mapped at <c>/socket.io</c>).
    /// </summary>
    private static bool TryGetRoute(FrozenDictionary<string, WebSocketUpgrade> routes, string path, out WebSocketUpgrade upgrade)
    {
        if (routes.TryGetValue(path, out upgrade!)) return true;
        return path.Length > 1 && path[^1] == '/' && path[^2] != '/'
            && routes.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(path.AsSpan(0, path.Length - 1), out upgrade!);
    }

    /// <summary>RFC 6455 §4.2.2: 101 with Upgrade, Connection and the accept value.</summary>
    private static void WriteSwitchingProtocols(PipeWriter output, in FastPlan plan)
    {
        // Straight into the output, no intermediate string: this runs once per connection.
        WriteAscii(output, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ");
        WriteAscii(output, plan.Accept);
        WriteAscii(output, "\r\n");
        if (plan.Subprotocol is not null)
        {
            WriteAscii(output, "Sec-WebSocket-Protocol: ");
            WriteAscii(output, plan.Subprotocol);
            WriteAscii(output, "\r\n");
        }
        if (plan.ExtensionResponse is not null)
        {
            WriteAscii(output, "Sec-WebSocket-Extensions: ");
            WriteAscii(output, plan.ExtensionResponse);
            WriteAscii(output, "\r\n");
        }
        WriteAscii(output, "\r\n");
    }

    private static void WriteAscii(PipeWriter output, string text)
    {
        var span = output.GetSpan(text.Length);
        int n = Encoding.ASCII.GetBytes(text, span);
        output.Advance(n);
    }

    private async Task RefuseAsync(ConnectionContext transport, FastPlan plan, HandshakeDecision refusal)
    {
        WebSocketUpgrade.CountRejection(_logger, transport.RemoteEndPoint, plan.Path, refusal.StatusCode, refusal.Body);
        var body = refusal.Body + "\n";
        var response = new StringBuilder()
            .Append("HTTP/1.1 ").Append(refusal.StatusCode).Append(' ').Append(ReasonPhrases.GetReasonPhrase(refusal.StatusCode)).Append("\r\n")
            .Append("Content-Type: text/plain; charset=utf-8\r\n")
            .Append("Retry-After: ").Append(refusal.RetryAfterSeconds ?? plan.Upgrade.Options.Limits.RetryAfterSeconds).Append("\r\n")
            .Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n")
            .Append("Connection: close\r\n\r\n");
        WriteAscii(transport.Transport.Output, response.ToString()); // a refusal is rare: a string will do
        transport.Transport.Output.Write(Encoding.UTF8.GetBytes(body));
        await transport.Transport.Output.FlushAsync().ConfigureAwait(false);
        await transport.Transport.Output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The literal paths whose endpoint can be served here: made by <c>MapWebSocket</c> with a handler
    /// that takes only the connection (or with a <see cref="FastPathEndpoint"/> that judges requests here),
    /// without OnHandshake, and without metadata that asks for the HTTP pipeline (authorization, CORS,
    /// host matching, rate limiting), and the only endpoint on its path.
    /// </summary>
    private FrozenDictionary<string, WebSocketUpgrade> BuildRoutes()
    {
        _headersTimeout = _services.GetService<IOptions<KestrelServerOptions>>()?.Value.Limits.RequestHeadersTimeout ?? TimeSpan.FromSeconds(30);
        var empty = FrozenDictionary<string, WebSocketUpgrade>.Empty;
        // A fallback policy puts authorization on every endpoint, marked or not.
        if (_services.GetService<IOptions<AuthorizationOptions>>()?.Value.FallbackPolicy is not null) return empty;
        if (_services.GetService<EndpointDataSource>() is not { } dataSource) return empty;
        bool authentication = HasAuthenticationSchemes(_services);
        var candidates = new Dictionary<string, WebSocketUpgrade?>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in dataSource.Endpoints)
        {
            if (endpoint is not RouteEndpoint route || route.RoutePattern.RawText is not { } raw) continue;
            var path = raw.StartsWith('/') ? raw : "/" + raw;
            var marker = route.Metadata.GetMetadata<WebSocketEndpointMetadata>();
            bool eligible = marker is not null && route.RoutePattern.Parameters.Count == 0
                && (marker.Upgrade.ContextFreeHandler is not null || marker.Upgrade.FastPath is { } judged && !(judged.ReadsUser && authentication))
                && marker.Upgrade.Options.OnHandshake is null
                && !NeedsPipeline(route.Metadata);
            // A second endpoint on the same path (another method, another host) leaves the choice to routing.
            candidates[path] = candidates.ContainsKey(path) || !eligible ? null : marker!.Upgrade;
        }
        var routes = candidates.Where(kv => kv.Value is not null).ToFrozenDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.OrdinalIgnoreCase);
        _logger.LogDebug("WebSocket fast path serves {Paths}", string.Join(", ", routes.Keys));
        return routes;
    }

    // The fast path runs no authentication: an endpoint that hands the caller's identity on would see
    // an anonymous one where the full path has the authenticated user.
    private static bool HasAuthenticationSchemes(IServiceProvider services)
    {
        if (services.GetService<IAuthenticationSchemeProvider>() is not { } schemes) return false;
        var all = schemes.GetAllSchemesAsync();
        return !all.IsCompletedSuccessfully || all.Result.Any();
    }

    private static bool NeedsPipeline(EndpointMetadataCollection metadata)
    {
        foreach (var item in metadata)
        {
            if (item is IAuthorizeData or ICorsMetadata or IHostMetadata) return true;
            var ns = item.GetType().Namespace;
            if (ns is not null && (ns.StartsWith("Microsoft.AspNetCore.RateLimiting", StringComparison.Ordinal)
                || ns.StartsWith("Microsoft.AspNetCore.Authorization", StringComparison.Ordinal))) return true;
        }
        return false;
    }
}
