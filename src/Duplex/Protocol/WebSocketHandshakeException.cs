namespace Duplex.Protocol;

/// <summary>Which check of the client's opening handshake failed (RFC 6455 §4.1).</summary>
public enum HandshakeCheck
{
    /// <summary>The response could not be parsed as HTTP, or its head was too large.</summary>
    MalformedResponse,
    /// <summary>The status was not 101 Switching Protocols.</summary>
    Status,
    /// <summary>The response lacked <c>Upgrade: websocket</c>.</summary>
    Upgrade,
    /// <summary>The response's Connection header lacked <c>Upgrade</c>.</summary>
    Connection,
    /// <summary>Sec-WebSocket-Accept was missing or did not match the key sent (RFC 6455 §4.2.2).</summary>
    Accept,
    /// <summary>The server chose a subprotocol that was not offered.</summary>
    Subprotocol,
    /// <summary>The server accepted an extension that was not offered, or permessage-deflate parameters the offer did not allow.</summary>
    Extension,
    /// <summary>The server closed the connection before the handshake finished (a timeout is a <see cref="TimeoutException"/>).</summary>
    Incomplete,
    /// <summary>The proxy refused or failed the tunnel (HTTP CONNECT or SOCKS5); <see cref="WebSocketHandshakeException.StatusCode"/> is its HTTP status, if any.</summary>
    Proxy,
    /// <summary>A redirect the client would not follow: past <see cref="WebSocketClientOptions.MaxRedirects"/>, from wss:// to ws://, or without a usable Location.</summary>
    Redirect,
}

/// <summary>The client's opening handshake failed; says which check and carries what the server answered.</summary>
public sealed class WebSocketHandshakeException : Exception
{
    /// <summary>A failed handshake: which check, why, and what the server answered, if anything.</summary>
    /// <param name="check">The check that failed.</param>
    /// <param name="message">What went wrong, for people.</param>
    /// <param name="statusCode">The response's HTTP status, or 0 when none was read.</param>
    /// <param name="headers">The response's headers, or null when none were read.</param>
    /// <param name="inner">The exception that caused this one, or null.</param>
    public WebSocketHandshakeException(HandshakeCheck check, string message, int statusCode = 0,
        IReadOnlyDictionary<string, string>? headers = null, Exception? inner = null)
        : base(message, inner)
    {
        Check = check;
        StatusCode = statusCode;
        Headers = headers ?? new Dictionary<string, string>();
    }

    /// <summary>Which check failed.</summary>
    public HandshakeCheck Check { get; }

    /// <summary>The HTTP status the server answered with, or 0 if none was read.</summary>
    public int StatusCode { get; }

    /// <summary>Response headers (repeated headers joined with ", "), names case-insensitive.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }
}
