using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.Server;
using Duplex.SocketIO.EngineIO;

namespace Duplex.Fuzz;

/// <summary>
/// The fast path's request-head parser (<see cref="HttpRequestHead"/>) and what the fast path judges with it
/// (WebSocketFastPath.Plan): the framing headers, <see cref="ServerHandshake.Validate"/>, the accept key, the
/// offered subprotocols, the permessage-deflate offers, and Engine.IO's fast-path judge (the query).
/// <para>Input: the bytes a new connection sends first. Documented outcomes: <see cref="RequestHeadStatus"/>
/// (Unsupported hands the connection to ASP.NET Core), a <see cref="HandshakeRejection"/>; none of it throws.
/// Checked: a parsed head's length ends with its empty line, its header count is within the limit, and a head
/// parsed from a prefix of the bytes parses the same from all of them.</para>
/// </summary>
public static class RequestHeadTarget
{
    private static readonly PerMessageDeflateOptions Deflate = new() { Enabled = true };
    private static readonly EngineIOServer Engine = new(new EngineIOOptions());

    public static void Run(ReadOnlySpan<byte> input)
    {
        var status = HttpRequestHead.TryParse(input, out var head, out int consumed);
        // The fast path reads once, but a head complete within a prefix must not depend on what follows it.
        int half = input.Length / 2;
        if (HttpRequestHead.TryParse(input[..half], out _, out int prefixConsumed) == RequestHeadStatus.Parsed
            && (status != RequestHeadStatus.Parsed || prefixConsumed != consumed))
            throw new FuzzInvariantException($"a head parsed from {half} bytes is {status} ({consumed}) from all {input.Length}");
        if (status != RequestHeadStatus.Parsed)
        {
            if (head is not null || consumed != 0) throw new FuzzInvariantException($"{status} with a head");
            return;
        }
        if (head is null || consumed > input.Length || consumed > HttpRequestHead.MaxLength + 4 || !input[..consumed].EndsWith("\r\n\r\n"u8))
            throw new FuzzInvariantException($"Parsed, consumed {consumed} of {input.Length}");
        if (head.Headers.Count > HttpRequestHead.MaxHeaders) throw new FuzzInvariantException($"{head.Headers.Count} headers");
        if (!head.Path.StartsWith('/')) throw new FuzzInvariantException($"path '{head.Path}'");

        // What WebSocketFastPath.Plan asks of a parsed head, in its order.
        _ = head.Value("Content-Length") ?? head.Value("Transfer-Encoding");
        var handshake = head.ToHandshakeRequest();
        var rejection = ServerHandshake.Validate(handshake);
        if (rejection is { } r && r.StatusCode is not (400 or 426)) throw new FuzzInvariantException($"rejected with {r.StatusCode}");
        if (rejection is not null) return;
        if (!Engine.AcceptsOnFastPath(new FastPathRequest(head, null, isHttps: false)))
        {
            // Declined: the full path judges it.
        }
        var offered = ServerHandshake.OfferedSubprotocols(handshake);
        foreach (var protocol in offered)
            if (protocol.Length == 0) throw new FuzzInvariantException("an empty subprotocol offered");
        if (PerMessageDeflateNegotiation.TryAcceptOffer(head.Values("Sec-WebSocket-Extensions"), Deflate, out var agreed, out var response)
            && (agreed is null || response is null))
            throw new FuzzInvariantException("an accepted offer without parameters or a response");
        var accept = HandshakeKeys.ComputeAccept(handshake.Key[0]!);
        if (accept.Length != 28) throw new FuzzInvariantException($"accept '{accept}'");
    }
}
