using System.Collections.Concurrent;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// Decompressors for connections whose peer agreed to no context takeover: such a decompressor forgets
/// its window at the end of every message, so between messages it belongs to no connection. A few
/// shared ones per window size replace one per connection (1 &lt;&lt; windowBits + 7 KiB each), held by a
/// connection only from a compressed message's first frame to its last.
/// </summary>
internal static class InflaterPool
{
    private static readonly ConcurrentBag<MessageInflater>?[] s_pools = new ConcurrentBag<MessageInflater>?[PerMessageDeflateParameters.MaxWindowBits + 1];
    private static readonly int s_keep = Math.Max(4, Environment.ProcessorCount * 2);

    public static MessageInflater Rent(int windowBits) =>
        s_pools[windowBits] is { } bag && bag.TryTake(out var inflater) ? inflater : new MessageInflater(windowBits, noContextTakeover: true);

    /// <summary>Takes back a decompressor that finished its message cleanly (one that failed is disposed instead).</summary>
    public static void Return(MessageInflater inflater)
    {
        var bag = Volatile.Read(ref s_pools[inflater.WindowBits]);
        if (bag is null)
        {
            Interlocked.CompareExchange(ref s_pools[inflater.WindowBits], new ConcurrentBag<MessageInflater>(), null);
            bag = s_pools[inflater.WindowBits]!;
        }
        if (bag.Count < s_keep) bag.Add(inflater);
        else inflater.Dispose();
    }
}
