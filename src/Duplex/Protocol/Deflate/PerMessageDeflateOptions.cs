namespace Duplex.Protocol.Deflate;

/// <summary>
/// What this endpoint asks for or accepts when negotiating permessage-deflate (RFC 7692). The same
/// class serves both roles: a server accepts offers within these limits, a client offers them.
/// </summary>
public sealed class PerMessageDeflateOptions
{
    /// <summary>Whether to offer (client) or accept (server) permessage-deflate at all.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// The server resets its compression context after every message (RFC 7692 §7.1.1.1). Costs
    /// ratio on repetitive traffic, saves the server keeping state that matters per connection, and
    /// lets a broadcast compress a message once for every recipient.
    /// </summary>
    public bool ServerNoContextTakeover { get; set; }

    /// <summary>The client resets its compression context after every message (RFC 7692 §7.1.1.2).</summary>
    public bool ClientNoContextTakeover { get; set; }

    /// <summary>
    /// Largest LZ77 window, as a power of two (8–15), the server compresses with (RFC 7692 §7.1.2.1).
    /// A server uses the smaller of this and what the client asks for; a client below 15 asks for it.
    /// </summary>
    public int ServerMaxWindowBits { get; set; } = PerMessageDeflateParameters.MaxWindowBits;

    /// <summary>
    /// Largest window the client compresses with (RFC 7692 §7.1.2.2). A server can only impose it on
    /// a client that offered client_max_window_bits; otherwise the client may use 15.
    /// </summary>
    public int ClientMaxWindowBits { get; set; } = PerMessageDeflateParameters.MaxWindowBits;

    /// <summary>zlib compression level for outgoing messages, 0 (store) to 9 (smallest); 6 is zlib's default.</summary>
    public int CompressionLevel { get; set; } = 6;

    /// <summary>
    /// zlib's memLevel (1–9, default 8) for each connection's own compressor (with context takeover):
    /// its state takes 1 &lt;&lt; (memLevel + 9) bytes beside the window, 128 KiB at 8, 4 KiB at 3 — less
    /// memory per connection for a somewhat lower ratio. The few shared compressors of connections
    /// without context takeover keep zlib's default.
    /// </summary>
    public int MemoryLevel { get; set; } = 8;

    /// <summary>
    /// A bound on the zlib memory of every connection that shares this budget (give the same instance to
    /// every endpoint to bound the whole server); past it a server answers new handshakes without
    /// permessage-deflate. Null (the default): no bound.
    /// </summary>
    public CompressionMemoryBudget? MemoryBudget { get; set; }

    /// <summary>
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear, RFC 7692 §6.1 lets an
    /// endpoint choose per message): deflate's block overhead makes small payloads larger, not smaller.
    /// </summary>
    public int MinMessageSizeToCompress { get; set; } = 128;

    internal PerMessageDeflateOptions Clone() => (PerMessageDeflateOptions)MemberwiseClone();

    /// <summary>Throws if a value is outside what RFC 7692 or zlib allows.</summary>
    public void Validate()
    {
        CheckWindowBits(ServerMaxWindowBits, nameof(ServerMaxWindowBits));
        CheckWindowBits(ClientMaxWindowBits, nameof(ClientMaxWindowBits));
        if (CompressionLevel is < 0 or > 9)
            throw new ArgumentOutOfRangeException(nameof(CompressionLevel), CompressionLevel, "zlib levels are 0 to 9.");
        if (MemoryLevel is < 1 or > 9)
            throw new ArgumentOutOfRangeException(nameof(MemoryLevel), MemoryLevel, "zlib memory levels are 1 to 9.");
        if (MinMessageSizeToCompress < 0)
            throw new ArgumentOutOfRangeException(nameof(MinMessageSizeToCompress), MinMessageSizeToCompress, "must not be negative.");
    }

    private static void CheckWindowBits(int bits, string name)
    {
        if (bits is < PerMessageDeflateParameters.MinWindowBits or > PerMessageDeflateParameters.MaxWindowBits)
            throw new ArgumentOutOfRangeException(name, bits, "RFC 7692 §7.1.2 allows window bits 8 to 15.");
    }
}
