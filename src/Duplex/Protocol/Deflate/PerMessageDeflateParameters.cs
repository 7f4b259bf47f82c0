namespace Duplex.Protocol.Deflate;

/// <summary>
/// The permessage-deflate parameters both endpoints agreed on in the opening handshake (RFC 7692
/// §7.1). Absent window parameters mean 15; "no context takeover" false means the sender may refer
/// back into earlier messages.
/// </summary>
public sealed record PerMessageDeflateParameters(
    bool ServerNoContextTakeover,
    bool ClientNoContextTakeover,
    int ServerMaxWindowBits,
    int ClientMaxWindowBits)
{
    /// <summary>The smallest LZ77 window RFC 7692 §7.1.2 allows: 2^8 = 256 bytes.</summary>
    public const int MinWindowBits = 8;
    /// <summary>The largest LZ77 window, 2^15 = 32 KiB; also what an absent window parameter means.</summary>
    public const int MaxWindowBits = 15;

    /// <summary>Whether the endpoint in <paramref name="role"/> resets its compressor after each message.</summary>
    public bool SenderResetsContext(WebSocketRole role) =>
        role == WebSocketRole.Server ? ServerNoContextTakeover : ClientNoContextTakeover;

    /// <summary>The largest window the endpoint in <paramref name="role"/> may compress with.</summary>
    public int SenderWindowBits(WebSocketRole role) =>
        role == WebSocketRole.Server ? ServerMaxWindowBits : ClientMaxWindowBits;

    /// <summary>Whether the peer of <paramref name="role"/> resets its context, so our decompressor may too.</summary>
    public bool ReceiverResetsContext(WebSocketRole role) =>
        SenderResetsContext(role == WebSocketRole.Server ? WebSocketRole.Client : WebSocketRole.Server);

    /// <summary>The window our decompressor needs: the largest the peer of <paramref name="role"/> may use.</summary>
    public int ReceiverWindowBits(WebSocketRole role) =>
        SenderWindowBits(role == WebSocketRole.Server ? WebSocketRole.Client : WebSocketRole.Server);
}
