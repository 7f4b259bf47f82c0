using System.Text;

namespace Duplex.Protocol;

/// <summary>The client side of the opening handshake, sans-I/O (RFC 6455 §4.1).</summary>
public sealed class ClientHandshake
{
    private readonly IReadOnlyList<string> _subprotocols;
    private readonly IReadOnlyList<string> _extensionNames;

    /// <param name="key">A fresh key per attempt (<see cref="HandshakeKeys.CreateKey"/>).</param>
    /// <param name="subprotocols">Subprotocols to offer, in order of preference; the response may only choose one of them.</param>
    /// <param name="extensionNames">Names of the extensions offered, so a response may only accept those.</param>
    public ClientHandshake(string key, IReadOnlyList<string> subprotocols, IReadOnlyList<string> extensionNames)
    {
        Key = key;
        _subprotocols = subprotocols;
        _extensionNames = extensionNames;
    }

    /// <summary>The Sec-WebSocket-Key sent, against which the response's Sec-WebSocket-Accept is checked.</summary>
    public string Key { get; }

    /// <summary>The request head: GET with the Upgrade headers and whatever the caller adds.</summary>
    public byte[] BuildRequest(Uri uri, IEnumerable<KeyValuePair<string, string>> headers, string? extensionsOffer)
    {
        var sb = new StringBuilder(256);
        var target = string.IsNullOrEmpty(uri.PathAndQuery) ? "/" : uri.PathAndQuery;
        sb.Append("GET ").Append(target).Append(" HTTP/1.1\r\n");
        bool defaultPort = uri.IsDefaultPort || (uri.Scheme is "ws" && uri.Port == 80) || (uri.Scheme is "wss" && uri.Port == 443);
        var host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost.Trim('[', ']')}]" : uri.IdnHost;
        sb.Append("Host: ").Append(host);
        if (!defaultPort) sb.Append(':').Append(uri.Port);
        sb.Append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        sb.Append("Sec-WebSocket-Key: ").Append(Key).Append("\r\n");
        sb.Append("Sec-WebSocket-Version: 13\r\n");
        if (_subprotocols.Count > 0) sb.Append("Sec-WebSocket-Protocol: ").AppendJoin(", ", _subprotocols).Append("\r\n");
        if (!string.IsNullOrEmpty(extensionsOffer)) sb.Append("Sec-WebSocket-Extensions: ").Append(extensionsOffer).Append("\r\n");
        foreach (var (name, value) in headers)
        {
            if (name.AsSpan().ContainsAny("\r\n:") || value.AsSpan().ContainsAny('\r', '\n'))
                throw new ArgumentException($"Header '{name}' has a character that would break the request.");
            sb.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        sb.Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>
    /// Checks the response (RFC 6455 §4.1, the client's validation steps) and returns the negotiated
    /// subprotocol (or null) and the accepted extensions header (or null).
    /// </summary>
    public (string? Subprotocol, string? Extensions) Validate(HttpResponseHead head)
    {
        var headers = head.Headers;
        if (head.StatusCode != 101)
            throw Fail(HandshakeCheck.Status, $"server answered {head.StatusCode} {head.ReasonPhrase} instead of 101 Switching Protocols", head);
        if (!headers.TryGetValue("Upgrade", out var upgrade) || !HeaderTokens.Contains([upgrade], "websocket"))
            throw Fail(HandshakeCheck.Upgrade, "response lacks 'Upgrade: websocket'", head);
        if (!headers.TryGetValue("Connection", out var connection) || !HeaderTokens.Contains([connection], "upgrade"))
            throw Fail(HandshakeCheck.Connection, "response 'Connection' header lacks 'Upgrade'", head);
        var expected = HandshakeKeys.ComputeAccept(Key);
        if (!headers.TryGetValue("Sec-WebSocket-Accept", out var accept) || accept.Trim() != expected)
            throw Fail(HandshakeCheck.Accept, $"Sec-WebSocket-Accept is '{accept}', expected '{expected}'", head);

        return ValidateNegotiation(head);
    }

    /// <summary>
    /// The checks of an RFC 8441 answer (HTTP/2 extended CONNECT): 200, no accept key; the subprotocol
    /// and extensions as in <see cref="Validate"/>.
    /// </summary>
    internal (string? Subprotocol, string? Extensions) ValidateExtendedConnect(HttpResponseHead head)
    {
        if (head.StatusCode != 200)
            throw Fail(HandshakeCheck.Status, $"server answered the extended CONNECT with {head.StatusCode} {head.ReasonPhrase} instead of 200", head);
        return ValidateNegotiation(head);
    }

    private (string? Subprotocol, string? Extensions) ValidateNegotiation(HttpResponseHead head)
    {
        var headers = head.Headers;
        string? subprotocol = null;
        if (headers.TryGetValue("Sec-WebSocket-Protocol", out var chosen))
        {
            chosen = chosen.Trim();
            bool offered = false;
            foreach (var p in _subprotocols) offered |= string.Equals(p, chosen, StringComparison.Ordinal);
            if (!offered || chosen.Contains(','))
                throw Fail(HandshakeCheck.Subprotocol, $"server chose subprotocol '{chosen}', which was not offered", head);
            subprotocol = chosen;
        }
        string? extensions = null;
        if (headers.TryGetValue("Sec-WebSocket-Extensions", out var ext) && ext.Trim().Length > 0)
        {
            foreach (var token in HeaderTokens.Split([ext]))
            {
                var name = token.Split(';')[0].Trim();
                bool offered = false;
                foreach (var e in _extensionNames) offered |= string.Equals(e, name, StringComparison.OrdinalIgnoreCase);
                if (!offered) throw Fail(HandshakeCheck.Extension, $"server accepted extension '{name}', which was not offered", head);
            }
            extensions = ext;
        }
        return (subprotocol, extensions);
    }

    private static WebSocketHandshakeException Fail(HandshakeCheck check, string message, HttpResponseHead head) =>
        new(check, "WebSocket handshake failed: " + message, head.StatusCode, head.Headers);
}
