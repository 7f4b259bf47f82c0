using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class MaskingTests
{
    private static readonly uint[] Keys = [0x00000000, 0xFFFFFFFF, 0x12345678, 0xA1B2C3D4, 0x80000001];

    /// <summary>RFC 6455 §5.3, one byte at a time: octet i XOR key octet (i + offset) mod 4.</summary>
    private static byte[] Reference(byte[] data, uint key, int offset)
    {
        byte[] keyBytes = [(byte)key, (byte)(key >> 8), (byte)(key >> 16), (byte)(key >> 24)];
        var result = (byte[])data.Clone();
        for (int i = 0; i < result.Length; i++) result[i] ^= keyBytes[(i + offset) % 4];
        return result;
    }

    private static byte[] Data(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void Matches_scalar_reference_for_every_length_to_300_and_every_key_offset()
    {
        for (int length = 0; length <= 300; length++)
        {
            var data = Data(length, length);
            foreach (var key in Keys)
            {
                for (int offset = 0; offset < 4; offset++)
                {
                    var actual = (byte[])data.Clone();
                    int next = Masking.Apply(actual, key, offset);
                    Assert.Equal(Reference(data, key, offset), actual);
                    Assert.Equal((offset + length) % 4, next);
                }
            }
        }
    }

    [Theory]
    [InlineData(65536)]
    [InlineData(65536 + 3)]
    [InlineData(1 << 20)]
    public void Matches_scalar_reference_for_large_payloads(int length)
    {
        var data = Data(length, 42);
        foreach (var key in Keys)
        {
            for (int offset = 0; offset < 4; offset++)
            {
                var actual = (byte[])data.Clone();
                Masking.Apply(actual, key, offset);
                Assert.Equal(Reference(data, key, offset), actual);
            }
        }
    }

    [Fact]
    public void Matches_scalar_reference_on_unaligned_spans()
    {
        var backing = Data(600, 7);
        for (int start = 0; start < 40; start++)
        {
            var data = backing.AsSpan(start, 517).ToArray();
            var copy = (byte[])backing.Clone();
            Masking.Apply(copy.AsSpan(start, 517), 0xCAFEBABE, 1);
            Assert.Equal(Reference(data, 0xCAFEBABE, 1), copy.AsSpan(start, 517).ToArray());
            // Bytes outside the span are untouched.
            Assert.Equal(backing.AsSpan(0, start).ToArray(), copy.AsSpan(0, start).ToArray());
            Assert.Equal(backing.AsSpan(start + 517).ToArray(), copy.AsSpan(start + 517).ToArray());
        }
    }

    [Fact]
    public void Chunked_application_equals_one_shot()
    {
        var random = new Random(1234);
        var data = Data(70_000, 99);
        var oneShot = (byte[])data.Clone();
        Masking.Apply(oneShot, 0x9E3779B9, 0);
        for (int trial = 0; trial < 50; trial++)
        {
            var chunked = (byte[])data.Clone();
            int pos = 0, offset = 0;
            while (pos < chunked.Length)
            {
                int n = Math.Min(chunked.Length - pos, trial < 25 ? random.Next(0, 40) : random.Next(0, 5000));
                offset = Masking.Apply(chunked.AsSpan(pos, n), 0x9E3779B9, offset);
                pos += n;
            }
            Assert.Equal(oneShot, chunked);
        }
    }

    [Fact]
    public void Applying_twice_restores_the_data()
    {
        var data = Data(1000, 5);
        var copy = (byte[])data.Clone();
        Masking.Apply(copy, 0x0BADF00D, 2);
        Assert.NotEqual(data, copy);
        Masking.Apply(copy, 0x0BADF00D, 2);
        Assert.Equal(data, copy);
    }

    [Fact]
    public void Empty_span_keeps_the_key_offset()
    {
        Assert.Equal(3, Masking.Apply([], 0x12345678, 3));
    }

    [Fact]
    public void Copy_and_apply_leaves_the_source_untouched()
    {
        var source = Data(100, 3);
        var original = (byte[])source.Clone();
        var destination = new byte[120];
        int next = Masking.CopyAndApply(source, destination, 0x12345678, 1);
        Assert.Equal(original, source);
        Assert.Equal(Reference(source, 0x12345678, 1), destination[..100]);
        Assert.Equal(new byte[20], destination[100..]);
        Assert.Equal(1, next);
    }

    [Fact]
    public void Reads_the_key_as_bytes_appear_on_the_wire()
    {
        uint key = Masking.ReadKey([0x37, 0xfa, 0x21, 0x3d]);
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        byte[] hello = "Hello"u8.ToArray();
        Masking.Apply(hello, key, 0);
        Assert.Equal([0x7f, 0x9f, 0x4d, 0x51, 0x58], hello);
    }
}
