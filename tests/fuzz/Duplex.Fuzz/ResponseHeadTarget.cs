using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex.Fuzz;

/// <summary>
/// The client's side of the opening handshake as WebSocketClient.ConnectAsync runs it:
/// <see cref="HttpResponseHead.TryParse"/>, <see cref="ClientHandshake.Validate"/>, then
/// <see cref="PerMessageDeflateNegotiation.TryAcceptResponse"/> and a protocol built with what was agreed.
/// <para>Input: byte 0 says what was offered (bit 0 the subprotocols "chat" and "superchat"; bit 1
/// permessage-deflate, bits 2–7 its options as <see cref="DeflateNegotiationTarget.Options"/> reads them), then
/// the server's bytes. The key sent is RFC 6455's sample, so its accept value is
/// <c>s3pPLMBiTxaQ9kYGzzhZRbK+xOo=</c>. Documented outcomes: false (more bytes needed),
/// <see cref="WebSocketHandshakeException"/> (MalformedResponse from the parser, any check from Validate), false
/// with an error from the deflate check.</para>
/// </summary>
public static class ResponseHeadTarget
{
    /// <summary>RFC 6455 §1.3's sample key.</summary>
    public const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static readonly string[] Subprotocols = ["chat", "superchat"];

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1) return;
        byte config = input[0];
        var response = input[1..];
        var deflate = (config & 2) != 0 ? DeflateNegotiationTarget.Options((byte)(config >> 2)) : new PerMessageDeflateOptions();
        var offer = PerMessageDeflateNegotiation.CreateOffer(deflate);
        string[] subprotocols = (config & 1) != 0 ? Subprotocols : [];
        var handshake = new ClientHandshake(Key, subprotocols, offer is null ? [] : [PerMessageDeflateNegotiation.ExtensionName]);

        HttpResponseHead? head;
        try
        {
            if (!HttpResponseHead.TryParse(response, out head, out int consumed))
            {
                if (response.Length > HttpResponseHead.MaxLength) throw new FuzzInvariantException($"{response.Length} bytes without a verdict");
                return;
            }
            if (head is null || consumed > response.Length || consumed > HttpResponseHead.MaxLength || !response[..consumed].EndsWith("\r\n\r\n"u8))
                throw new FuzzInvariantException($"parsed, consumed {consumed} of {response.Length}");
            if (head.StatusCode is < 100 or > 999) throw new FuzzInvariantException($"status {head.StatusCode}");
        }
        catch (WebSocketHandshakeException e) when (e.Check == HandshakeCheck.MalformedResponse)
        {
            return;
        }

        string? subprotocol, extensions;
        try
        {
            (subprotocol, extensions) = handshake.Validate(head);
        }
        catch (WebSocketHandshakeException)
        {
            return;
        }
        if (head.StatusCode != 101) throw new FuzzInvariantException($"{head.StatusCode} validated");
        if (subprotocol is not null && !subprotocols.Contains(subprotocol)) throw new FuzzInvariantException($"subprotocol '{subprotocol}' was not offered");
        if (offer is null)
        {
            if (extensions is not null && extensions.Trim().Length > 0 && ExtensionHeader.Parse(extensions).Count > 0)
                throw new FuzzInvariantException($"extensions '{extensions}' accepted, none offered");
            return;
        }
        if (!PerMessageDeflateNegotiation.TryAcceptResponse(extensions, deflate, out var agreed, out var error))
        {
            if (error is null) throw new FuzzInvariantException("refused without an error");
            return;
        }
        if (agreed is not null) DeflateNegotiationTarget.RoundTrip(agreed);
    }
}
