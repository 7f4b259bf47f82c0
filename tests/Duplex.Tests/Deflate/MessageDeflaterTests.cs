using System.Buffers;
using System.IO.Compression;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using static Duplex.Tests.Deflate.DeflateTestData;

namespace Duplex.Tests.Deflate;

public class MessageDeflaterTests
{
    private static List<byte[]> Conversation()
    {
        var messages = new List<byte[]> { "Hello"u8.ToArray(), Array.Empty<byte>(), Text(300, 1), Text(300, 1), Random(1000, 2), Array.Empty<byte>(), Text(70_000, 3) };
        for (int i = 0; i < 40; i++) messages.Add(Text(20 + i * 37, 100 + i % 5));
        messages.Add(Random(200_000, 4));
        messages.Add(Text(300, 1));
        return messages;
    }

    public static TheoryData<int, bool> WindowsAndTakeover()
    {
        var data = new TheoryData<int, bool>();
        for (int bits = 8; bits <= 15; bits++)
        {
            data.Add(bits, false);
            data.Add(bits, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(WindowsAndTakeover))]
    public void Many_messages_round_trip_at_every_window_with_and_without_context_takeover(int windowBits, bool noContextTakeover)
    {
        using var deflater = new MessageDeflater(windowBits, noContextTakeover);
        // The inflater keeps exactly the agreed window: a stream that reached further back would fail.
        using var inflater = new MessageInflater(windowBits, noContextTakeover);
        foreach (var message in Conversation())
            Assert.Equal(message, Decompress(inflater, Compress(deflater, message)));
    }

    [Fact]
    public void Both_roles_round_trip_with_the_agreed_parameters()
    {
        var agreed = new PerMessageDeflateParameters(ServerNoContextTakeover: true, ClientNoContextTakeover: false, ServerMaxWindowBits: 9, ClientMaxWindowBits: 12);
        using var serverDeflater = MessageDeflater.Create(agreed, WebSocketRole.Server);
        using var serverInflater = MessageInflater.Create(agreed, WebSocketRole.Server);
        using var clientDeflater = MessageDeflater.Create(agreed, WebSocketRole.Client);
        using var clientInflater = MessageInflater.Create(agreed, WebSocketRole.Client);
        Assert.Equal((9, true), (serverDeflater.WindowBits, serverDeflater.ResetsContextPerMessage));
        Assert.Equal(9, clientInflater.WindowBits);
        Assert.Equal((12, false), (clientDeflater.WindowBits, clientDeflater.ResetsContextPerMessage));
        Assert.Equal(12, serverInflater.WindowBits);
        foreach (var message in Conversation())
        {
            Assert.Equal(message, Decompress(clientInflater, Compress(serverDeflater, message)));
            Assert.Equal(message, Decompress(serverInflater, Compress(clientDeflater, message)));
        }
    }

    [Fact]
    public void Context_takeover_shrinks_a_repeated_message()
    {
        var message = Random(1000, seed: 5);
        using var takeover = new MessageDeflater(15, noContextTakeover: false);
        var first = Compress(takeover, message);
        var second = Compress(takeover, message);
        Assert.True(first.Length > 1000, "random bytes do not compress");
        Assert.True(second.Length < 20, $"a repeat should be one back-reference, was {second.Length} bytes");

        using var reset = new MessageDeflater(15, noContextTakeover: true);
        Assert.Equal(Compress(reset, message), Compress(reset, message));
    }

    [Fact]
    public void Without_context_takeover_every_message_decompresses_on_its_own()
    {
        using var deflater = new MessageDeflater(15, noContextTakeover: true);
        foreach (var message in Conversation())
        {
            // A fresh inflater has no history, so any reference into an earlier message would fail.
            using var fresh = new MessageInflater(15, noContextTakeover: true);
            Assert.Equal(message, Decompress(fresh, Compress(deflater, message)));
        }
    }

    [Fact]
    public void Zlib_refuses_a_raw_deflate_window_of_8()
    {
        // The reason MessageDeflater compresses with 9 when 8 was agreed.
        Assert.Throws<InvalidOperationException>(() => ZStreamHandle.CreateDeflater(6, 8).Dispose());
        ZStreamHandle.CreateDeflater(6, 9).Dispose();
        ZStreamHandle.CreateInflater(8).Dispose();
    }

    [Fact]
    public void Window_8_output_fits_a_256_byte_window_across_messages()
    {
        // 300 random bytes sent twice: a 512-byte window could refer back 300 bytes into the previous
        // message, which a peer keeping 256 bytes could not follow.
        var block = Random(300, seed: 6);
        using var deflater = new MessageDeflater(8, noContextTakeover: false);
        using var inflater = new MessageInflater(8, noContextTakeover: false);
        for (int i = 0; i < 20; i++) Assert.Equal(block, Decompress(inflater, Compress(deflater, block)));
    }

    [Fact]
    public void A_256_byte_window_cannot_follow_a_larger_senders_reference()
    {
        // The counterpart of the test above, showing it would catch a sender reaching too far back.
        var block = Random(300, seed: 6);
        using var deflater = new MessageDeflater(10, noContextTakeover: false);
        using var inflater = new MessageInflater(8, noContextTakeover: false);
        Assert.Equal(block, Decompress(inflater, Compress(deflater, block)));
        var status = inflater.Inflate(Compress(deflater, block), true, 1000, new ArrayBufferWriter<byte>(), out _);
        Assert.Equal(InflateStatus.InvalidData, status);
    }

    [Fact]
    public void Output_ends_without_the_empty_block_tail()
    {
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        // RFC 7692 §7.2.1: the sync flush's final 00 00 FF FF is removed.
        foreach (var message in Conversation())
            Assert.False(Compress(deflater, message).AsSpan().EndsWith(Hex("0000FFFF")));
    }

    [Fact]
    public void Hello_compresses_as_in_rfc7692()
    {
        // RFC 7692 §7.2.3.1 and §7.2.3.2 show what zlib produces for "Hello" twice with context takeover.
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        Assert.Equal(Hex("f2 48 cd c9 c9 07 00"), Compress(deflater, "Hello"u8));
        Assert.Equal(Hex("f2 00 11 00 00"), Compress(deflater, "Hello"u8));
    }

    [Fact]
    public void An_empty_message_compresses_to_a_single_zero_byte()
    {
        // RFC 7692 §7.2.3.6.
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        Assert.Equal(Hex("00"), Compress(deflater, []));
        Compress(deflater, "Hello"u8);
        Assert.Equal(Hex("00"), Compress(deflater, []));
        using var reset = new MessageDeflater(15, noContextTakeover: true);
        Compress(reset, "Hello"u8);
        Assert.Equal(Hex("00"), Compress(reset, []));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(65536)]
    public void A_message_fed_in_chunks_with_flushes_round_trips_frame_by_frame(int chunkSize)
    {
        var message = Text(150_000, seed: 7);
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        for (int round = 0; round < 3; round++)
        {
            var received = new ArrayBufferWriter<byte>();
            for (int offset = 0; offset < message.Length; offset += chunkSize)
            {
                var chunk = message.AsSpan(offset, Math.Min(chunkSize, message.Length - offset));
                bool last = offset + chunkSize >= message.Length;
                // Each chunk becomes a frame: its compressed bytes go to the peer before the next chunk.
                var frame = new ArrayBufferWriter<byte>();
                deflater.Write(chunk, frame);
                if (last) deflater.Finish(frame);
                else if (offset / chunkSize % 10 == 0) deflater.Flush(frame);
                var status = inflater.Inflate(frame.WrittenSpan, last, message.Length, received, out var error);
                Assert.True(status == InflateStatus.Done, error.ToString());
            }
            Assert.Equal(message, received.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void A_flush_makes_everything_written_so_far_decompressible()
    {
        var part = Text(5000, seed: 8);
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var frame = new ArrayBufferWriter<byte>();
        deflater.Write(part, frame);
        deflater.Flush(frame);
        var received = new ArrayBufferWriter<byte>();
        Assert.Equal(InflateStatus.Done, inflater.Inflate(frame.WrittenSpan, false, 1 << 20, received, out _));
        Assert.Equal(part, received.WrittenSpan.ToArray());

        // Finishing right after a flush still ends the message properly.
        var end = new ArrayBufferWriter<byte>();
        deflater.Finish(end);
        Assert.Equal(InflateStatus.Done, inflater.Inflate(end.WrittenSpan, true, 1 << 20, received, out _));
        Assert.Equal(part, received.WrittenSpan.ToArray());
        Assert.Equal(part, Decompress(inflater, Compress(deflater, part)));
    }

    [Fact]
    public void Writes_correctly_into_a_writer_that_gives_minimal_spans()
    {
        // Spans of exactly the size asked for make the flush end straddle span boundaries.
        var messages = Conversation();
        using var deflater = new MessageDeflater(15, noContextTakeover: false);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        foreach (var message in messages)
        {
            var writer = new StingyBufferWriter();
            deflater.CompressMessage(message, writer);
            Assert.Equal(message, Decompress(inflater, writer.ToArray()));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(9)]
    public void Every_compression_level_round_trips(int level)
    {
        using var deflater = new MessageDeflater(15, noContextTakeover: false, compressionLevel: level);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        foreach (var message in Conversation())
            Assert.Equal(message, Decompress(inflater, Compress(deflater, message)));
    }

    [Fact]
    public void DeflateStream_decompresses_what_we_compress()
    {
        using var deflater = new MessageDeflater(15, noContextTakeover: true);
        foreach (var message in Conversation())
            Assert.Equal(message, DecompressWithDeflateStream(Compress(deflater, message)));
    }

    [Fact]
    public void We_decompress_what_DeflateStream_compresses_and_flushes()
    {
        // DeflateStream.Flush is a sync flush, so its output ends with 00 00 FF FF as RFC 7692 expects.
        var messages = Conversation();
        var compressed = new MemoryStream();
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        using var deflate = new DeflateStream(compressed, CompressionLevel.Optimal, leaveOpen: true);
        // zlib flushes nothing when nothing was written since the last flush, so empty messages are left out.
        foreach (var message in messages.Where(m => m.Length > 0))
        {
            compressed.SetLength(0);
            deflate.Write(message);
            deflate.Flush();
            var bytes = compressed.ToArray();
            Assert.True(bytes.AsSpan().EndsWith(Hex("0000FFFF")));
            Assert.Equal(message, Decompress(inflater, bytes.AsSpan(0, bytes.Length - 4)));
        }
    }

    [Fact]
    public void Use_after_dispose_throws_and_dispose_twice_is_harmless()
    {
        var deflater = new MessageDeflater(15, noContextTakeover: false);
        deflater.Dispose();
        deflater.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Compress(deflater, "Hello"u8));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(16)]
    public void Rejects_windows_outside_8_to_15(int bits)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageDeflater(bits, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageInflater(bits, false));
    }
}
