namespace Duplex.Protocol;

/// <summary>What the server must answer to an upgrade request that fails (RFC 6455 §4.2.1, §4.4).</summary>
public readonly record struct HandshakeRejection(int StatusCode, string Reason)
{
    /// <summary>426 carries the version the server speaks (RFC 6455 §4.4).</summary>
    public bool RequiresVersionHeader => StatusCode == 426;
}

/// <summary>The parts of an opening handshake request the server judges (RFC 6455 §4.2.1).</summary>
public sealed class HandshakeRequest
{
    /// <summary>The request method; <see cref="ServerHandshake.Validate"/> requires <c>GET</c> (RFC 6455 §4.2.1 item 1).</summary>
    public required string Method { get; init; }
    /// <summary>The HTTP version as on the request line, e.g. "HTTP/1.1".</summary>
    public required string Protocol { get; init; }
    /// <summary>The value of each Host line; exactly one, not blank, is required (item 2).</summary>
    public IReadOnlyList<string?> Host { get; init; } = [];
    /// <summary>The value of each Upgrade line; one must list <c>websocket</c> (item 3).</summary>
    public IReadOnlyList<string?> Upgrade { get; init; } = [];
    /// <summary>The value of each Connection line; one must list <c>Upgrade</c> (item 4).</summary>
    public IReadOnlyList<string?> Connection { get; init; } = [];
    /// <summary>The value of each Sec-WebSocket-Key line; exactly one, the base64 of 16 bytes, is required (item 5).</summary>
    public IReadOnlyList<string?> Key { get; init; } = [];
    /// <summary>The value of each Sec-WebSocket-Version line; exactly one, <c>13</c>, is required (item 6).</summary>
    public IReadOnlyList<string?> Version { get; init; } = [];
    /// <summary>The value of each Sec-WebSocket-Protocol line: the subprotocols offered, comma-separated (item 8).</summary>
    public IReadOnlyList<string?> Protocols { get; init; } = [];
    /// <summary>The Origin header, or null when absent (item 7); for the server's own policy, not judged by <see cref="ServerHandshake.Validate"/>.</summary>
    public string? Origin { get; init; }
}

/// <summary>The server side of the opening handshake, sans-I/O.</summary>
public static class ServerHandshake
{
    /// <summary>The one protocol version spoken, <c>13</c> (RFC 6455 §4.1): the expected Sec-WebSocket-Version, and what a 426 names.</summary>
    public const string SupportedVersion = "13";

    /// <summary>
    /// Checks a request against RFC 6455 §4.2.1. Returns null when it is a valid WebSocket opening
    /// handshake, otherwise the status and a one-line reason to answer with.
    /// </summary>
    public static HandshakeRejection? Validate(HandshakeRequest request)
    {
        if (!string.Equals(request.Method, "GET", StringComparison.Ordinal))
            return new(400, $"WebSocket handshake must be a GET request, not {request.Method}");
        if (!IsHttp11OrLater(request.Protocol))
            return new(400, $"WebSocket handshake needs HTTP/1.1 or later, not {request.Protocol}");
        if (request.Host.Count != 1 || string.IsNullOrWhiteSpace(request.Host[0]))
            return new(400, "missing or repeated Host header");
        if (!HeaderTokens.Contains(request.Upgrade, "websocket"))
            return new(400, "missing 'Upgrade: websocket' header");
        if (!HeaderTokens.Contains(request.Connection, "upgrade"))
            return new(400, "'Connection' header does not contain 'Upgrade'");
        // RFC 6455 §4.4: a version the server does not speak is answered with 426 and the versions it does.
        if (request.Version.Count != 1 || request.Version[0]?.Trim() != SupportedVersion)
            return new(426, "unsupported Sec-WebSocket-Version; this server speaks 13");
        if (request.Key.Count != 1 || !HandshakeKeys.IsValidKey(request.Key[0]))
            return new(400, "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
        return null;
    }

    /// <summary>
    /// Checks an HTTP/2 extended CONNECT (RFC 8441 §4–5): :protocol must be "websocket" and
    /// Sec-WebSocket-Version 13; there is no key, Upgrade or Connection header in HTTP/2.
    /// </summary>
    public static HandshakeRejection? ValidateExtendedConnect(string? protocol, HandshakeRequest request)
    {
        if (!string.Equals(protocol, "websocket", StringComparison.OrdinalIgnoreCase))
            return new(400, $"extended CONNECT for protocol '{protocol}', not websocket");
        if (request.Version.Count != 1 || request.Version[0]?.Trim() != SupportedVersion)
            return new(426, "unsupported Sec-WebSocket-Version; this server speaks 13");
        return null;
    }

    private static bool IsHttp11OrLater(string protocol)
    {
        if (!protocol.StartsWith("HTTP/", StringComparison.Ordinal)) return false;
        return Version.TryParse(protocol.AsSpan(5), out var v) ? v >= new Version(1, 1) : protocol.Length == 6 && protocol[5] is >= '2' and <= '9';
    }

    /// <summary>The subprotocols a client offered, in its order of preference.</summary>
    public static List<string> OfferedSubprotocols(HandshakeRequest request) => HeaderTokens.Split(request.Protocols);
}
