using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Duplex.Conformance.Wire;

/// <summary>Outcome of an opening handshake (RFC 6455 §4), either side.</summary>
internal sealed record HandshakeOutcome(
    bool Succeeded,
    string? Error,
    HttpHead? PeerHead,
    string? NegotiatedExtensions,
    byte[] Leftover)
{
    public static HandshakeOutcome Failed(string error, HttpHead? head = null) => new(false, error, head, null, []);
}

/// <summary>Both halves of the opening handshake, done by hand so nothing of Duplex is involved.</summary>
internal static class Handshake
{
    // RFC 6455 §1.3: the GUID concatenated to Sec-WebSocket-Key before hashing.
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static string AcceptFor(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    /// <summary>
    /// Client side: sends the upgrade request for <paramref name="uri"/> and checks the 101 response
    /// (RFC 6455 §4.1). <paramref name="extensionOffer"/> is sent as Sec-WebSocket-Extensions when set.
    /// </summary>
    public static async Task<HandshakeOutcome> ConnectAsync(Socket socket, Uri uri, string? extensionOffer, CancellationToken cancellationToken)
    {
        string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = new StringBuilder()
            .Append($"GET {uri.PathAndQuery} HTTP/1.1\r\n")
            .Append($"Host: {uri.Authority}\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Key: {key}\r\n")
            .Append("Sec-WebSocket-Version: 13\r\n")
            .Append("User-Agent: Duplex.Conformance\r\n");
        if (extensionOffer is not null)
        {
            request.Append($"Sec-WebSocket-Extensions: {extensionOffer}\r\n");
        }
        request.Append("\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None, cancellationToken);

        var head = await HttpHead.ReadAsync(socket, cancellationToken);
        if (head is null)
        {
            return HandshakeOutcome.Failed("the server closed the connection before answering the upgrade request");
        }
        var status = head.StartLine.Split(' ', 3);
        if (status.Length < 2 || status[1] != "101")
        {
            return HandshakeOutcome.Failed($"expected status 101, got '{head.StartLine}'", head);
        }
        if (!head.HeaderHasToken("Upgrade", "websocket") || !head.HeaderHasToken("Connection", "Upgrade"))
        {
            return HandshakeOutcome.Failed("response lacks 'Upgrade: websocket' or 'Connection: Upgrade'", head);
        }
        if (head.Header("Sec-WebSocket-Accept") != AcceptFor(key))
        {
            return HandshakeOutcome.Failed("Sec-WebSocket-Accept does not match the key sent", head);
        }
        string? extensions = head.Header("Sec-WebSocket-Extensions");
        if (extensions is not null && extensionOffer is null)
        {
            // RFC 6455 §4.1 (point 5 of the client's checks): an extension that was not offered fails the connection.
            return HandshakeOutcome.Failed($"server accepted extensions that were never offered: {extensions}", head);
        }
        return new HandshakeOutcome(true, null, head, extensions, head.Leftover);
    }

    /// <summary>
    /// Server side: reads the client's upgrade request, validates it (RFC 6455 §4.2.1) and answers
    /// 101. <paramref name="acceptExtensions"/> picks the Sec-WebSocket-Extensions response from the
    /// client's offer; chapters 1-10 decline every extension, chapters 12/13 accept permessage-deflate here.
    /// </summary>
    public static async Task<HandshakeOutcome> AcceptAsync(Socket socket, Func<string?, string?> acceptExtensions, CancellationToken cancellationToken)
    {
        var head = await HttpHead.ReadAsync(socket, cancellationToken);
        if (head is null)
        {
            return HandshakeOutcome.Failed("the client closed the connection before sending an upgrade request");
        }
        string? key = head.Header("Sec-WebSocket-Key");
        string? problem =
            !head.StartLine.StartsWith("GET ", StringComparison.Ordinal) ? $"request line is not a GET: '{head.StartLine}'"
            : !head.HeaderHasToken("Upgrade", "websocket") ? "request lacks 'Upgrade: websocket'"
            : !head.HeaderHasToken("Connection", "Upgrade") ? "request lacks 'Connection: Upgrade'"
            : head.Header("Sec-WebSocket-Version") != "13" ? $"unsupported Sec-WebSocket-Version '{head.Header("Sec-WebSocket-Version")}'"
            : string.IsNullOrEmpty(key) || Convert.TryFromBase64String(key, new byte[16], out int keyLength) is false || keyLength != 16
                ? "Sec-WebSocket-Key is not 16 octets in base64"
            : null;
        if (problem is not null)
        {
            await socket.SendAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, cancellationToken);
            return HandshakeOutcome.Failed(problem, head);
        }
        string? extensions = acceptExtensions(head.Header("Sec-WebSocket-Extensions"));
        var response = new StringBuilder()
            .Append("HTTP/1.1 101 Switching Protocols\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Accept: {AcceptFor(key!)}\r\n")
            .Append("Server: Duplex.Conformance\r\n");
        if (extensions is not null)
        {
            response.Append($"Sec-WebSocket-Extensions: {extensions}\r\n");
        }
        response.Append("\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(response.ToString()), SocketFlags.None, cancellationToken);
        return new HandshakeOutcome(true, null, head, extensions, head.Leftover);
    }
}
