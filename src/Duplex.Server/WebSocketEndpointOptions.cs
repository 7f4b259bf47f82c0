using Microsoft.AspNetCore.Http;

namespace Duplex.Server;

/// <summary>Handshake policy and connection limits for one WebSocket endpoint.</summary>
public sealed class WebSocketEndpointOptions
{
    /// <summary>
    /// Limits and timeouts of the endpoint's connections, and whether they accept permessage-deflate
    /// (off by default). Read as connections are made: configure it before the endpoint takes its first one.
    /// </summary>
    public WebSocketConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Picks the subprotocol from those the client offered (in its order of preference), or returns
    /// null for none. The answer must be one of the offered values. Default: none.
    /// </summary>
    public Func<IReadOnlyList<string>, string?>? SelectSubprotocol { get; set; }

    /// <summary>
    /// Judges the Origin header (null when absent, as from non-browser clients); false answers 403.
    /// Default: every origin. Browsers always send Origin, so this is the guard against
    /// cross-site WebSocket hijacking (RFC 6455 §10.2).
    /// </summary>
    public Func<string?, bool>? ValidateOrigin { get; set; }

    /// <summary>
    /// Runs after the handshake is found valid and before the upgrade: return null to accept, or a
    /// rejection (401/403/429 … with a body) to refuse. The place for authentication.
    /// </summary>
    public Func<HttpContext, ValueTask<HandshakeDecision?>>? OnHandshake { get; set; }

    /// <summary>Connection caps and rates checked before the upgrade (429/503 with Retry-After).</summary>
    public HandshakeLimitOptions Limits { get; set; } = new();
}

/// <summary>A refusal of an upgrade request: the HTTP status and a short body.</summary>
public sealed record HandshakeDecision(int StatusCode, string Body)
{
    /// <summary>The Retry-After of a refusal that sets its own (a drain's); null for the endpoint's <see cref="HandshakeLimitOptions.RetryAfterSeconds"/>.</summary>
    internal int? RetryAfterSeconds { get; init; }
}
