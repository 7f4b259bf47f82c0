using System.Collections.Concurrent;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// Compressors for connections that agreed to no context takeover on their sending side: such a
/// compressor holds nothing between messages, so it need not belong to a connection. A few shared ones
/// (per window size and level) replace one per connection — zlib's compression state is some 256 KiB,
/// and one that was just used is still in the CPU cache, which resetting it between messages needs
/// (measured: deflate echo of 1 KiB on 100 connections spent a third of its CPU clearing cold state).
/// </summary>
internal static class DeflaterPool
{
    private static readonly ConcurrentDictionary<(int WindowBits, int Level), ConcurrentBag<MessageDeflater>> s_pools = new();
    private static readonly int s_keep = Math.Max(4, Environment.ProcessorCount * 2);

    public static MessageDeflater Rent(int windowBits, int level) =>
        s_pools.TryGetValue((windowBits, level), out var bag) && bag.TryTake(out var deflater)
            ? deflater
            : new MessageDeflater(windowBits, noContextTakeover: true, level);

    /// <summary>Takes back a compressor that finished its message (one that failed midway is disposed instead).</summary>
    public static void Return(MessageDeflater deflater, int level)
    {
        var bag = s_pools.GetOrAdd((deflater.WindowBits, level), static _ => new ConcurrentBag<MessageDeflater>());
        if (bag.Count < s_keep) bag.Add(deflater);
        else deflater.Dispose();
    }
}
