using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Duplex.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// The Engine.IO v4 server: judges each request to the endpoint as the reference server does, creates
/// sessions on handshake and routes later requests (polling GET/POST, WebSocket upgrades) to them.
/// HTTP hosting is ASP.NET Core's; the WebSocket is Duplex's own connection.
/// </summary>
public sealed class EngineIOServer
{
    internal const string SessionItemKey = "Duplex.SocketIO.EngineIOSession";
    private readonly ConcurrentDictionary<string, EngineIOSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>
    /// A server with <paramref name="options"/> (the instance is kept, not copied). <paramref name="logger"/>
    /// gets refused requests and closed sessions at Debug level and failing handlers as errors; null logs
    /// nothing. Serve it with <c>MapEngineIO</c>; a <see cref="SocketIOServer"/> makes its own.
    /// </summary>
    public EngineIOServer(EngineIOOptions options, ILogger? logger = null)
    {
        Options = options;
        Logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The options this server judges requests and runs sessions with.</summary>
    public EngineIOOptions Options { get; }

    internal ILogger Logger { get; }

    /// <summary>Raised for each new session, before any of its packets is read.</summary>
    public event Action<EngineIOSession>? Connection;

    /// <summary>
    /// Raised with the response headers of a handshake (a request without <c>sid</c>: the first polling GET,
    /// or a WebSocket opened directly), and the request, before they are written; the handler may add or
    /// change headers (the reference's <c>io.engine.on("initial_headers", (headers, req) => …)</c>). The
    /// session cookie, when <see cref="EngineIOOptions.CookieName"/> is set, is among them already. Raised
    /// before <see cref="Headers"/>. Only for answers that succeed (polling 200, WebSocket 101), not
    /// refusals. A handler that throws is logged, and the response goes out.
    /// </summary>
    public event Action<IHeaderDictionary, HttpRequest>? InitialHeaders;

    /// <summary>
    /// Raised with the response headers of every successful Engine.IO answer — each polling GET and POST,
    /// the handshake's included, and each WebSocket upgrade's 101 — and the request, before they are
    /// written (the reference's <c>io.engine.on("headers", (headers, req) => …)</c>).
    /// </summary>
    public event Action<IHeaderDictionary, HttpRequest>? Headers;

    /// <summary>
    /// How many sessions the server holds (the reference's <c>clientsCount</c>), counting closed polling
    /// sessions still waiting for their last poll.
    /// </summary>
    public int ClientsCount => _sessions.Count;

    /// <summary>Finds the session whose id is <paramref name="sid"/>; false when there is none (never opened, or closed and removed).</summary>
    public bool TryGetSession(string sid, out EngineIOSession session) => _sessions.TryGetValue(sid, out session!);

    internal void Remove(EngineIOSession session) => _sessions.TryRemove(new KeyValuePair<string, EngineIOSession>(session.Id, session));

    /// <summary>Closes every session (reason "server shutting down").</summary>
    public void CloseAll(string reason = EngineCloseReason.ServerShuttingDown)
    {
        foreach (var session in _sessions.Values) session.Close(reason, graceful: true);
    }

    /// <summary>20 characters of base64url from 15 random bytes, like the reference's ids.</summary>
    internal static string NewId()
    {
        Span<byte> bytes = stackalloc byte[15];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }

    /// <summary>
    /// Serves one HTTP request to the Engine.IO path. <paramref name="webSocketEndpoint"/> performs the
    /// WebSocket handshake for upgrade requests once they pass the Engine.IO checks.
    /// </summary>
    public async Task HandleRequestAsync(HttpContext context, RequestDelegate webSocketEndpoint)
    {
        var request = context.Request;
        bool upgrade = IsUpgradeRequest(request);
        if (InitialHeaders is not null || Headers is not null)
            context.Response.OnStarting(static state =>
            {
                var (server, ctx) = ((EngineIOServer, HttpContext))state;
                return server.RaiseHeaders(ctx);
            }, (this, context));
        if (!upgrade && Options.Cors is { } cors)
        {
            ApplyCors(context, cors);
            if (HttpMethods.IsOptions(request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                context.Response.ContentLength = 0;
                return;
            }
        }

        var (error, message, session) = await VerifyAsync(context, upgrade).ConfigureAwait(false);
        if (error is null && session is null && request.Query["EIO"] != "4")
            error = EngineIOError.UnsupportedProtocolVersion;
        if (error is { } code)
        {
            Logger.LogDebug("Engine.IO request {Method} {Url} refused: {Code}", request.Method, request.Path + request.QueryString, code);
            await RefuseAsync(context, upgrade, code, message).ConfigureAwait(false);
            return;
        }

        if (upgrade)
        {
            context.Items[SessionItemKey] = session;
            await webSocketEndpoint(context).ConfigureAwait(false);
            return;
        }
        if (session is not null)
        {
            await session.HandlePollingRequestAsync(context).ConfigureAwait(false);
            return;
        }

        // Handshake over polling: the first GET answers the open packet.
        session = new EngineIOSession(this, NewId(), context, socket: null);
        _sessions[session.Id] = session;
        if (Options.CookieName is { } cookie)
            context.Response.Headers.SetCookie = $"{cookie}={session.Id}; Path=/; HttpOnly; SameSite=Lax";
        Connection?.Invoke(session);
        session.Start();
        await session.HandlePollingRequestAsync(context).ConfigureAwait(false);
    }

    /// <summary>The WebSocket handler: a new session over WebSocket, or the upgrade of a polling one.</summary>
    public async Task HandleWebSocketAsync(WebSocketConnection connection, HttpContext context)
    {
        if (context.Items.TryGetValue(SessionItemKey, out var existing) && existing is EngineIOSession polling)
        {
            await polling.UpgradeAsync(connection).ConfigureAwait(false);
            return;
        }
        var session = new EngineIOSession(this, NewId(), context, connection);
        _sessions[session.Id] = session;
        Connection?.Invoke(session);
        session.Start();
        await session.RunWebSocketAsync().ConfigureAwait(false);
    }

    // Kestrel runs this as the headers are about to go out, whichever part of the engine answers; only
    // the answers the reference passes through its "headers" event are handed on: polling 200 and the
    // WebSocket's 101 (200 for RFC 8441 over HTTP/2), not preflights nor refusals.
    private Task RaiseHeaders(HttpContext context)
    {
        if (context.Response.StatusCode is not (StatusCodes.Status200OK or StatusCodes.Status101SwitchingProtocols)) return Task.CompletedTask;
        var request = context.Request;
        var headers = context.Response.Headers;
        try
        {
            if (string.IsNullOrEmpty(request.Query["sid"])) InitialHeaders?.Invoke(headers, request);
            Headers?.Invoke(headers, request);
        }
        catch (Exception ex)
        {
            Logger.LogError(ex, "Engine.IO headers handler failed for {Method} {Path}", request.Method, request.Path);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Whether the connection-level fast path may serve this upgrade without an <see cref="HttpContext"/>:
    /// only a new WebSocket session (no sid: upgrading a polling session goes through the HTTP pipeline)
    /// that these options would accept as it is, with nothing to add to the 101 (no cookie, no
    /// <see cref="InitialHeaders"/> or <see cref="Headers"/> handler: the fast path's 101 has no place for
    /// them). Anything else is declined and goes the full way, where it gets the answer it always got.
    /// </summary>
    internal bool AcceptsOnFastPath(FastPathRequest request)
    {
        var options = Options;
        if (options.AllowRequest is not null || options.CookieName is not null || !options.Transports.Contains("websocket")) return false;
        if (InitialHeaders is not null || Headers is not null) return false;
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(request.Head.Query);
        if (query.ContainsKey("sid")) return false;
        if (!query.TryGetValue("transport", out var transport) || transport.Count != 1 || transport[0] != "websocket") return false;
        if (!query.TryGetValue("EIO", out var version) || version.Count != 1 || version[0] != "4") return false;
        request.State = query;
        return true;
    }

    /// <summary>The fast path's WebSocket handler: a new session over WebSocket, from the request head the fast path saw.</summary>
    internal async Task HandleFastPathWebSocketAsync(WebSocketConnection connection, FastPathRequest request)
    {
        var session = new EngineIOSession(this, NewId(), request, connection);
        _sessions[session.Id] = session;
        Connection?.Invoke(session);
        session.Start();
        await session.RunWebSocketAsync().ConfigureAwait(false);
    }

    private static bool IsUpgradeRequest(HttpRequest request)
    {
        foreach (var value in request.Headers.Upgrade)
            if (value is not null && value.Contains("websocket", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>The reference server's checks, in its order.</summary>
    private async ValueTask<(EngineIOError? Error, string? Message, EngineIOSession? Session)> VerifyAsync(HttpContext context, bool upgrade)
    {
        var request = context.Request;
        string? transport = request.Query["transport"];
        if (transport is null || !Options.Transports.Contains(transport))
            return (EngineIOError.UnknownTransport, null, null);

        string? sid = request.Query["sid"];
        if (!string.IsNullOrEmpty(sid))
        {
            if (!_sessions.TryGetValue(sid, out var session)) return (EngineIOError.UnknownSid, null, null);
            if (!upgrade && session.Transport != transport) return (EngineIOError.BadRequest, null, null);
            if (upgrade && transport != "websocket") return (EngineIOError.BadRequest, null, null);
            return (null, null, session);
        }
        if (!HttpMethods.IsGet(request.Method)) return (EngineIOError.BadHandshakeMethod, null, null);
        if (transport == "websocket" && !upgrade) return (EngineIOError.BadRequest, null, null);
        if (upgrade && transport != "websocket") return (EngineIOError.BadRequest, null, null);
        if (Options.AllowRequest is { } allow && await allow(context).ConfigureAwait(false) is { } refusal)
            return (EngineIOError.Forbidden, refusal, null);
        return (null, null, null);
    }

    internal static Task RefuseAsync(HttpContext context, bool upgrade, EngineIOError code, string? message)
    {
        message ??= EngineIOErrors.Message(code);
        var response = context.Response;
        if (upgrade)
        {
            // The reference answers refused upgrades with a bare 400 and the message as text/html.
            response.StatusCode = StatusCodes.Status400BadRequest;
            response.ContentType = "text/html";
            response.Headers.Connection = "close";
            return response.WriteAsync(message);
        }
        response.StatusCode = code == EngineIOError.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest;
        response.ContentType = "application/json";
        var body = new StringBuilder("{\"code\":").Append((int)code).Append(",\"message\":");
        body.Append(System.Text.Json.JsonSerializer.Serialize(message, SocketIOJsonContext.Default.String)).Append('}');
        return response.WriteAsync(body.ToString());
    }

    private static void ApplyCors(HttpContext context, EngineIOCorsOptions cors)
    {
        var request = context.Request;
        var headers = context.Response.Headers;
        string? origin = request.Headers.Origin.Count > 0 ? request.Headers.Origin.ToString() : null;
        if (cors.AllowOrigin(origin) is { } allowed)
        {
            headers.AccessControlAllowOrigin = allowed;
            if (allowed != "*") headers.Append("Vary", "Origin");
        }
        if (cors.Credentials) headers.AccessControlAllowCredentials = "true";
        if (HttpMethods.IsOptions(request.Method))
        {
            headers.AccessControlAllowMethods = cors.Methods;
            var requested = cors.AllowedHeaders ?? request.Headers.AccessControlRequestHeaders.ToString();
            if (cors.AllowedHeaders is null) headers.Append("Vary", "Access-Control-Request-Headers");
            if (!string.IsNullOrEmpty(requested)) headers.AccessControlAllowHeaders = requested;
        }
    }
}
