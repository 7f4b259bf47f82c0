namespace Duplex.Protocol.Deflate;

/// <summary>
/// A bound on the zlib memory that permessage-deflate connections hold, shared by every endpoint whose
/// <see cref="PerMessageDeflateOptions.MemoryBudget"/> is this instance: past it, new handshakes are
/// answered without permessage-deflate (the connection opens uncompressed) instead of growing the
/// server's memory by some 300 KiB per compressed connection. Open connections keep what they hold; it
/// is given back when they end. Concurrent handshakes may pass it by the few that are in flight.
/// </summary>
public sealed class CompressionMemoryBudget
{
    private long _used;
    private long _declined;

    /// <param name="maxBytes">The most zlib memory, in bytes, that compressed connections may hold together.</param>
    public CompressionMemoryBudget(long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        MaxBytes = maxBytes;
    }

    /// <summary>The bound given to the constructor.</summary>
    public long MaxBytes { get; }

    /// <summary>What open compressed connections hold now, by zlib's own formula for its state.</summary>
    public long UsedBytes => Volatile.Read(ref _used);

    /// <summary>How many handshakes were answered without permessage-deflate because the budget was spent.</summary>
    public long Declined => Volatile.Read(ref _declined);

    /// <summary>
    /// zlib's memory for one connection in <paramref name="role"/> under <paramref name="agreed"/>: its own
    /// compressor when it keeps its context — (1 &lt;&lt; (windowBits + 2)) + (1 &lt;&lt; (memLevel + 9)), zlib's
    /// formula — none when it resets per message (those share a few pooled ones), and its decompressor,
    /// 1 &lt;&lt; windowBits plus zlib's fixed 7 KiB — none when the peer resets per message (pooled too).
    /// </summary>
    public static long CostOf(PerMessageDeflateParameters agreed, WebSocketRole role, int memoryLevel)
    {
        ArgumentNullException.ThrowIfNull(agreed);
        long deflate = agreed.SenderResetsContext(role) ? 0 : (1L << (Math.Max(9, agreed.SenderWindowBits(role)) + 2)) + (1L << (memoryLevel + 9));
        long inflate = agreed.ReceiverResetsContext(role) ? 0 : (1L << agreed.ReceiverWindowBits(role)) + 7 * 1024;
        return deflate + inflate;
    }

    /// <summary>Whether a connection costing <paramref name="bytes"/> fits; counts the refusal when it does not.</summary>
    internal bool HasRoomFor(long bytes)
    {
        if (Volatile.Read(ref _used) + bytes <= MaxBytes) return true;
        Interlocked.Increment(ref _declined);
        DuplexMetrics.CompressionDeclined.Add(1);
        return false;
    }

    internal void Take(long bytes) => Interlocked.Add(ref _used, bytes);

    internal void Give(long bytes) => Interlocked.Add(ref _used, -bytes);
}
