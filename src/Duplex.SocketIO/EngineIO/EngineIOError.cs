namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// The error codes and messages the reference Engine.IO server answers bad requests with
/// (HTTP 400, or 403 for <see cref="Forbidden"/>, body <c>{"code":N,"message":"…"}</c>).
/// </summary>
public enum EngineIOError
{
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
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
