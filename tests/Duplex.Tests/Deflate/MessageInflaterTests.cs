using System.Buffers;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using static Duplex.Tests.Deflate.DeflateTestData;

namespace Duplex.Tests.Deflate;

public class MessageInflaterTests
{
    private static readonly byte[] Hello = "Hello"u8.ToArray();

    [Fact]
    public void Decompresses_the_rfc7692_hello_example()
    {
        // RFC 7692 §7.2.3.1: "Hello" compressed, the tail 00 00 FF FF stripped.
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 cd c9 c9 07 00")));
    }

    [Fact]
    public void Decompresses_the_rfc7692_second_message_that_refers_into_the_first()
    {
        // RFC 7692 §7.2.3.2: with a shared window, a second "Hello" is a single back-reference.
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 cd c9 c9 07 00")));
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 00 11 00 00")));
    }

    [Fact]
    public void Decompresses_the_rfc7692_stored_block_example()
    {
        // RFC 7692 §7.2.3.3: DEFLATE without compression (a stored block).
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(Hello, Decompress(inflater, Hex("00 05 00 fa ff 48 65 6c 6c 6f 00")));
    }

    [Fact]
    public void Decompresses_the_rfc7692_bfinal_example_and_the_next_message()
    {
        // RFC 7692 §7.2.3.4: a sender may end a message with a final block (BFINAL=1); the tail the
        // receiver appends then lies after the end of the DEFLATE stream and is ignored.
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(Hello, Decompress(inflater, Hex("f3 48 cd c9 c9 07 00")));
        Assert.Equal(Hello, Decompress(inflater, Hex("f3 48 cd c9 c9 07 00")));
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 cd c9 c9 07 00")));
    }

    [Fact]
    public void Decompresses_the_rfc7692_two_block_example()
    {
        // RFC 7692 §7.2.3.5: one message made of two DEFLATE blocks ("He" flushed, then "llo").
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")));
    }

    [Fact]
    public void Decompresses_a_message_split_into_one_byte_chunks()
    {
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var compressed = Hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00");
        var writer = new StingyBufferWriter();
        for (int i = 0; i < compressed.Length; i++)
        {
            var status = inflater.Inflate(compressed.AsSpan(i, 1), i == compressed.Length - 1, 100, writer, out _);
            Assert.Equal(InflateStatus.Done, status);
        }
        Assert.Equal(Hello, writer.ToArray());
    }

    [Fact]
    public void Drains_into_a_small_destination_with_repeated_calls()
    {
        var payload = Text(50_000, seed: 1);
        byte[] compressed;
        using (var deflater = new MessageDeflater(15, false)) compressed = Compress(deflater, payload);

        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var output = new List<byte>();
        var destination = new byte[7];
        var source = compressed.AsSpan();
        while (true)
        {
            var status = inflater.Inflate(source, destination, endOfMessage: true, out int consumed, out int written);
            output.AddRange(destination.AsSpan(0, written).ToArray());
            source = source[consumed..];
            if (status == InflateStatus.Done) break;
            Assert.Equal(InflateStatus.DestinationTooSmall, status);
        }
        Assert.Equal(payload, output.ToArray());
        Assert.Equal(0, inflater.MessageBytesWritten);
    }

    [Fact]
    public void A_decompression_bomb_stops_one_byte_past_the_limit()
    {
        // 10 MB of zeros deflates to about 10 KB: a 1000:1 bomb.
        var zeros = new byte[10 * 1024 * 1024];
        byte[] bomb;
        using (var deflater = new MessageDeflater(15, false, compressionLevel: 9)) bomb = Compress(deflater, zeros);
        Assert.InRange(bomb.Length, 1, 64 * 1024);

        const int limit = 1024 * 1024;
        // A writer that would throw if asked to hold more than the limit: the byte past it, which tells
        // "over" from "exactly at", is the inflater's own (a pooled writer asked for it rents twice the limit).
        var writer = new StingyBufferWriter(capacity: limit);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var status = inflater.Inflate(bomb, endOfMessage: true, limit, writer, out var error);

        Assert.Equal(InflateStatus.MessageTooBig, status);
        Assert.Equal(CloseStatus.MessageTooBig, error.Status);
        Assert.Equal(limit, writer.WrittenCount);
        Assert.True(writer.MostReserved <= limit);
        Assert.True(inflater.MessageBytesWritten <= limit + 1);
    }

    [Fact]
    public void A_bomb_fed_in_chunks_stops_at_the_limit_too()
    {
        var zeros = new byte[4 * 1024 * 1024];
        byte[] bomb;
        using (var deflater = new MessageDeflater(15, false)) bomb = Compress(deflater, zeros);
        const int limit = 100_000;
        var writer = new StingyBufferWriter(capacity: limit);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var status = InflateStatus.Done;
        for (int i = 0; i < bomb.Length && status == InflateStatus.Done; i += 100)
        {
            var chunk = bomb.AsSpan(i, Math.Min(100, bomb.Length - i));
            status = inflater.Inflate(chunk, i + 100 >= bomb.Length, limit, writer, out _);
        }
        Assert.Equal(InflateStatus.MessageTooBig, status);
        Assert.True(writer.WrittenCount <= limit);
    }

    [Fact]
    public void A_message_of_exactly_the_limit_is_accepted()
    {
        var payload = Text(10_000, seed: 2);
        byte[] compressed;
        using (var deflater = new MessageDeflater(15, false)) compressed = Compress(deflater, payload);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Equal(payload, Decompress(inflater, compressed, limit: payload.Length));

        using var strict = new MessageInflater(15, noContextTakeover: false);
        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(InflateStatus.MessageTooBig, strict.Inflate(compressed, true, payload.Length - 1, writer, out _));
        Assert.Equal(payload.Length - 1, writer.WrittenCount);
    }

    [Fact]
    public void The_limit_applies_per_message_not_per_connection()
    {
        var payload = Text(1000, seed: 3);
        using var deflater = new MessageDeflater(15, false);
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        for (int i = 0; i < 20; i++)
            Assert.Equal(payload, Decompress(inflater, Compress(deflater, payload), limit: 1000));
    }

    [Theory]
    [InlineData("ff ff ff ff")]           // block type 3, which DEFLATE reserves
    [InlineData("00 05 00 00 00 48 65")]   // stored block whose NLEN is not the complement of LEN
    [InlineData("f2 00 11 00 00")]         // a back-reference into a window that is empty
    public void Invalid_compressed_data_fails_with_1007(string hex)
    {
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        var status = inflater.Inflate(Hex(hex), endOfMessage: true, 1 << 20, new ArrayBufferWriter<byte>(), out var error);
        Assert.Equal(InflateStatus.InvalidData, status);
        Assert.Equal(CloseStatus.InvalidPayloadData, error.Status);
        Assert.False(string.IsNullOrEmpty(inflater.ErrorMessage));
        // The connection is failing; the inflater refuses to go on with a broken stream.
        Assert.Throws<InvalidOperationException>(() => inflater.Inflate(Hello, true, 100, new ArrayBufferWriter<byte>(), out _));
    }

    [Fact]
    public void Random_garbage_never_throws_and_never_exceeds_the_limit()
    {
        for (int seed = 0; seed < 200; seed++)
        {
            using var inflater = new MessageInflater(15, noContextTakeover: false);
            var writer = new StingyBufferWriter(capacity: 4097);
            var status = inflater.Inflate(Random(1 + seed * 7, seed), true, 4096, writer, out _);
            Assert.True(writer.WrittenCount <= 4096);
            Assert.Contains(status, new[] { InflateStatus.Done, InflateStatus.InvalidData, InflateStatus.MessageTooBig });
        }
    }

    [Fact]
    public void Without_context_takeover_a_reference_to_the_previous_message_is_invalid()
    {
        // The RFC's second "Hello" refers into the first; a peer that promised not to do that is caught.
        using var inflater = new MessageInflater(15, noContextTakeover: true);
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 cd c9 c9 07 00")));
        var status = inflater.Inflate(Hex("f2 00 11 00 00"), true, 100, new ArrayBufferWriter<byte>(), out var error);
        Assert.Equal(InflateStatus.InvalidData, status);
        Assert.Equal(CloseStatus.InvalidPayloadData, error.Status);
    }

    [Fact]
    public void An_empty_message_is_a_single_zero_byte()
    {
        // RFC 7692 §7.2.3.6: an empty message may be sent as 00, an empty stored block without its tail.
        using var inflater = new MessageInflater(15, noContextTakeover: false);
        Assert.Empty(Decompress(inflater, Hex("00")));
        Assert.Equal(Hello, Decompress(inflater, Hex("f2 48 cd c9 c9 07 00")));
    }

    [Fact]
    public void Use_after_dispose_throws_and_dispose_twice_is_harmless()
    {
        var inflater = new MessageInflater(15, noContextTakeover: false);
        inflater.Dispose();
        inflater.Dispose();
        Assert.Throws<ObjectDisposedException>(() => inflater.Inflate(Hello, true, 100, new ArrayBufferWriter<byte>(), out _));
    }
}
