using System.Net;
using Duplex.Protocol;

namespace Duplex.Server;

/// <summary>
/// What the connection-level fast path saw of an upgrade request, for an endpoint that judges requests
/// there (<see cref="FastPathEndpoint"/>): the request head as sent, and the connection it came on.
/// </summary>
internal sealed class FastPathRequest(HttpRequestHead head, EndPoint? remoteEndPoint, bool isHttps)
{
    /// <summary>The request line and headers, as sent: <see cref="HttpRequestHead.Path"/> undecoded, <see cref="HttpRequestHead.Query"/> with its '?'.</summary>
    public HttpRequestHead Head { get; } = head;

    /// <summary>The peer's address and port, as the transport gives them.</summary>
    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>The peer's IP address, as <c>HttpContext.Connection.RemoteIpAddress</c> would give it; null when unknown.</summary>
    public IPAddress? RemoteIpAddress => (RemoteEndPoint as IPEndPoint)?.Address;

    /// <summary>True when the connection is TLS (the fast path sits after <c>UseHttps</c>), as <c>HttpRequest.IsHttps</c>.</summary>
    public bool IsHttps { get; } = isHttps;

    /// <summary>What the judge learned from the request (e.g. its parsed query), for the handler.</summary>
    public object? State { get; set; }
}

/// <summary>
/// Lets an endpoint whose handler takes the <c>HttpContext</c> serve some requests on the fast path:
/// <see cref="Accept"/> sees the request head before the 101 and either takes the request (the fast
/// path answers 101 and runs <see cref="Handler"/>) or declines (the request goes to ASP.NET Core
/// untouched, so every refusal is the full path's). The endpoint must still qualify as any fast-path
/// endpoint does (a literal path, no OnHandshake, no metadata that asks for the HTTP pipeline).
/// </summary>
/// <param name="accept">True to serve the request here. It runs on the connection's accept path: it must be quick and not block. An exception declines.</param>
/// <param name="handler">The connection's handler, with what <paramref name="accept"/> saw.</param>
/// <param name="readsUser">
/// True when the handler passes the caller's identity on (as <c>HttpContext.User</c> would give it): the
/// fast path runs no authentication, so such an endpoint takes it only when no authentication scheme is registered.
/// </param>
internal sealed class FastPathEndpoint(Func<FastPathRequest, bool> accept, Func<WebSocketConnection, FastPathRequest, Task> handler, bool readsUser)
{
    public Func<FastPathRequest, bool> Accept { get; } = accept;

    public Func<WebSocketConnection, FastPathRequest, Task> Handler { get; } = handler;

    public bool ReadsUser { get; } = readsUser;
}
