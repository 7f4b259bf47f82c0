namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// The error codes and messages the reference Engine.IO server answers bad requests with
/// (HTTP 400, or 403 for <see cref="Forbidden"/>, body <c>{"code":N,"message":"…"}</c>).
/// </summary>
public enum EngineIOError
{
    /// <summary>"Transport unknown": the <c>transport</c> query parameter is missing or not one of <see cref="EngineIOOptions.Transports"/>.</summary>
    UnknownTransport = 0,
    /// <summary>"Session ID unknown": the <c>sid</c> names no session of this server (never opened, or closed).</summary>
    UnknownSid = 1,
    /// <summary>"Bad handshake method": a handshake (a request without <c>sid</c>) that is not a GET.</summary>
    BadHandshakeMethod = 2,
    /// <summary>"Bad request": e.g. a request on another transport than its session's, or <c>transport=websocket</c> without an upgrade.</summary>
    BadRequest = 3,
    /// <summary>"Forbidden" (HTTP 403): <see cref="EngineIOOptions.AllowRequest"/> refused the handshake; its message replaces this one.</summary>
    Forbidden = 4,
    /// <summary>"Unsupported protocol version": a handshake whose <c>EIO</c> query parameter is not 4.</summary>
    UnsupportedProtocolVersion = 5,
}

internal static class EngineIOErrors
{
    public static string Message(EngineIOError error) => error switch
    {
        EngineIOError.UnknownTransport => "Transport unknown",
        EngineIOError.UnknownSid => "Session ID unknown",
        EngineIOError.BadHandshakeMethod => "Bad handshake method",
        EngineIOError.BadRequest => "Bad request",
        EngineIOError.Forbidden => "Forbidden",
        EngineIOError.UnsupportedProtocolVersion => "Unsupported protocol version",
        _ => "Bad request",
    };
}
