using Duplex.Protocol.Deflate;
using static Duplex.Tests.Deflate.DeflateTestData;

namespace Duplex.Tests.Deflate;

public class PooledBufferWriterTests
{
    [Fact]
    public void Grows_and_keeps_what_was_written()
    {
        using var writer = new PooledBufferWriter(16);
        var data = Random(100_000, seed: 1);
        for (int i = 0; i < data.Length; i += 1000)
        {
            data.AsSpan(i, 1000).CopyTo(writer.GetSpan(1000));
            writer.Advance(1000);
        }
        Assert.Equal(data, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Detached_buffer_holds_the_message_and_the_writer_starts_over()
    {
        using var writer = new PooledBufferWriter();
        "Hello"u8.CopyTo(writer.GetSpan(5));
        writer.Advance(5);
        var buffer = writer.DetachBuffer(out int length);
        Assert.Equal("Hello"u8.ToArray(), buffer.AsSpan(0, length).ToArray());
        Assert.Equal(0, writer.WrittenCount);
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
    }

    [Fact]
    public void A_bomb_inflated_into_a_capped_pooled_writer_stays_near_the_limit()
    {
        byte[] bomb;
        using (var deflater = new MessageDeflater(15, false)) bomb = Compress(deflater, new byte[8 * 1024 * 1024]);
        const int limit = 300_000;
        using var writer = new PooledBufferWriter(256) { MaxCapacity = limit + 1 };
        using var inflater = new MessageInflater(15, false);
        Assert.Equal(InflateStatus.MessageTooBig, inflater.Inflate(bomb, true, limit, writer, out _));
        // ArrayPool rounds rentals up to a power of two: 524288 is the next one above the limit.
        Assert.InRange(writer.Capacity, limit, 524_288);
    }

    [Fact]
    public void Steady_state_compression_and_decompression_allocate_nothing_per_message()
    {
        var message = Text(2000, seed: 2);
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        using var compressed = new PooledBufferWriter(4096);
        using var decompressed = new PooledBufferWriter(4096);
        void RoundTrip()
        {
            compressed.Clear();
            decompressed.Clear();
            deflater.CompressMessage(message, compressed);
            if (inflater.Inflate(compressed.WrittenSpan, true, 1 << 20, decompressed, out _) != InflateStatus.Done) throw new InvalidOperationException();
        }
        for (int i = 0; i < 100; i++) RoundTrip();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) RoundTrip();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The smallest object is 24 bytes, so one allocation per message would pass 24 000; the slack
        // below that absorbs one-off runtime allocations (tiering, first-call stubs) on this thread.
        Assert.True(allocated < 16_000, $"{allocated} bytes allocated over 1000 messages");
        Assert.Equal(message, decompressed.WrittenSpan.ToArray());
    }
}
