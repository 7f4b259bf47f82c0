using System.Net;
using System.Security.Claims;
using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>What the client sent when it connected: the handshake request and its CONNECT <c>auth</c> payload.</summary>
public sealed class SocketIOHandshake
{
    private readonly JsonSerializerOptions _options;

    internal SocketIOHandshake(EngineIO.EngineIOSession session, JsonElement? auth, JsonSerializerOptions options)
    {
        _options = options;
        Headers = session.RequestHeaders;
        Query = session.Query;
        Address = session.RemoteAddress;
        Time = session.CreatedAt;
        Url = session.Url;
        Secure = session.IsSecure;
        User = session.User;
        Auth = auth;
        XDomain = session.RequestHeaders.ContainsKey("origin");
    }

    /// <summary>The handshake request's headers (<c>handshake.headers</c>): names lower-case, looked up case-insensitively.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }
    /// <summary>The handshake request's query parameters (<c>handshake.query</c>), <c>EIO</c> and <c>transport</c> included.</summary>
    public IReadOnlyDictionary<string, string> Query { get; }
    /// <summary>
    /// The client's IP address (<c>handshake.address</c>); null when unknown. Behind a proxy it is the proxy's,
    /// unless ASP.NET Core's forwarded-headers middleware runs first.
    /// </summary>
    public IPAddress? Address { get; }
    /// <summary>When the client's Engine.IO session was made (<c>handshake.time</c>), UTC.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The handshake time as milliseconds since the Unix epoch (the reference's <c>issued</c>).</summary>
    public long Issued => Time.ToUnixTimeMilliseconds();
    /// <summary>The handshake request's path and query string (<c>handshake.url</c>).</summary>
    public string Url { get; }
    /// <summary>True when the handshake came over HTTPS or WSS (<c>handshake.secure</c>).</summary>
    public bool Secure { get; }
    /// <summary>True when the handshake request carried an <c>Origin</c> header, as browsers send cross-origin (<c>handshake.xdomain</c>).</summary>
    public bool XDomain { get; }

    /// <summary>The user ASP.NET Core authenticated on the handshake request, if any.</summary>
    public ClaimsPrincipal? User { get; }

    /// <summary>The <c>auth</c> object of the CONNECT packet (null when the client sent none).</summary>
    public JsonElement? Auth { get; }

    /// <summary>
    /// <see cref="Auth"/> read as <typeparamref name="T"/> with the server's JSON options; default when the
    /// client sent none. Throws <see cref="JsonException"/> when it does not fit <typeparamref name="T"/>.
    /// </summary>
    public T? GetAuth<T>() => Auth is { } auth ? SocketIOJson.Read<T>(auth, _options) : default;
}
