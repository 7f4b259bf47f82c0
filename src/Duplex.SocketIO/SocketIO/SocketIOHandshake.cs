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

    public IReadOnlyDictionary<string, string> Headers { get; }
    public IReadOnlyDictionary<string, string> Query { get; }
    public IPAddress? Address { get; }
    public DateTimeOffset Time { get; }

    /// <summary>The handshake time as milliseconds since the Unix epoch (the reference's <c>issued</c>).</summary>
    public long Issued => Time.ToUnixTimeMilliseconds();
    public string Url { get; }
    public bool Secure { get; }
    public bool XDomain { get; }

    /// <summary>The user ASP.NET Core authenticated on the handshake request, if any.</summary>
    public ClaimsPrincipal? User { get; }

    /// <summary>The <c>auth</c> object of the CONNECT packet (null when the client sent none).</summary>
    public JsonElement? Auth { get; }

    public T? GetAuth<T>() => Auth is { } auth ? SocketIOJson.Read<T>(auth, _options) : default;
}
