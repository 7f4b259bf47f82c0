namespace Duplex.Protocol;

/// <summary>Which check of the client's opening handshake failed (RFC 6455 §4.1).</summary>
public enum HandshakeCheck
{
    /// <summary>The response could not be parsed as HTTP, or its head was too large.</summary>
    MalformedResponse,
    /// <summary>The status was not 101 Switching Protocols.</summary>
    Status,
    Upgrade,
    Connection,
    Accept,
    Subprotocol,
    Extension,
    /// <summary>The connection closed or timed out before the handshake finished.</summary>
    Incomplete,
}

/// <summary>The client's opening handshake failed; says which check and carries what the server answered.</summary>
public sealed class WebSocketHandshakeException : Exception
{
    public WebSocketHandshakeException(HandshakeCheck check, string message, int statusCode = 0,
        IReadOnlyDictionary<string, string>? headers = null, Exception? inner = null)
        : base(message, inner)
    {
        Check = check;
        StatusCode = statusCode;
        Headers = headers ?? new Dictionary<string, string>();
    }

    public HandshakeCheck Check { get; }

    /// <summary>The HTTP status the server answered with, or 0 if none was read.</summary>
    public int StatusCode { get; }

    /// <summary>Response headers (repeated headers joined with ", "), names case-insensitive.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }
}
