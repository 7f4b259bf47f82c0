using System.Buffers;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public class FrameHeaderTests
{
    [Theory]
    [InlineData(0L, 2, 0)]
    [InlineData(1L, 2, 1)]
    [InlineData(125L, 2, 125)]
    [InlineData(126L, 4, 126)]
    [InlineData(65535L, 4, 126)]
    [InlineData(65536L, 10, 127)]
    [InlineData(0x7FFF_FFFF_FFFF_FFFFL, 10, 127)]
    public void Writes_the_shortest_length_encoding(long length, int headerLength, int lengthCode)
    {
        Assert.Equal(headerLength, FrameHeader.GetLength(length, masked: false));
        Assert.Equal(headerLength + 4, FrameHeader.GetLength(length, masked: true));
        var buffer = new byte[FrameHeader.MaxLength];
        Assert.Equal(headerLength, FrameHeader.Write(buffer, true, 0, Opcode.Binary, length, null));
        Assert.Equal(lengthCode, buffer[1] & 0x7F);
        Assert.True(FrameHeader.TryParse(buffer, out var header));
        Assert.Equal(length, header.PayloadLength);
        Assert.Equal(headerLength, header.HeaderLength);
        Assert.False(header.Masked);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(125L)]
    [InlineData(126L)]
    [InlineData(65535L)]
    [InlineData(65536L)]
    [InlineData(1L << 40)]
    public void Parses_lengths_the_way_rfc_6455_encodes_them(long length)
    {
        // Bytes built independently of FrameHeader.Write.
        var bytes = Frames.Build((byte)Opcode.Binary, [], true, 0, true, 0x04030201, length);
        Assert.True(FrameHeader.TryParse(bytes, out var header));
        Assert.Equal(length, header.PayloadLength);
        Assert.Equal(bytes.Length, header.HeaderLength);
        Assert.True(header.Masked);
        Assert.Equal(0x04030201u, header.MaskKey);
    }

    [Fact]
    public void Parses_a_64_bit_length_with_top_bit_set_as_negative()
    {
        byte[] bytes = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        Assert.True(FrameHeader.TryParse(bytes, out var header));
        Assert.True(header.PayloadLength < 0);
    }

    [Fact]
    public void Parses_fin_rsv_and_opcode_bits()
    {
        Assert.True(FrameHeader.TryParse([0x71, 0x00], out var header));
        Assert.False(header.Fin);
        Assert.Equal(7, header.Rsv);
        Assert.Equal(Opcode.Text, header.Opcode);
        Assert.True(FrameHeader.TryParse([0x89, 0x00], out header));
        Assert.True(header.Fin);
        Assert.Equal(0, header.Rsv);
        Assert.Equal(Opcode.Ping, header.Opcode);
    }

    [Fact]
    public void Writes_the_mask_key_in_wire_order()
    {
        var buffer = new byte[FrameHeader.MaxLength];
        int n = FrameHeader.Write(buffer, true, 0, Opcode.Text, 5, 0x44332211);
        Assert.Equal(6, n);
        Assert.Equal([0x81, 0x85, 0x11, 0x22, 0x33, 0x44], buffer[..6]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(200_000)]
    public void Frame_writer_output_parses_back_with_the_payload(int length)
    {
        var payload = Enumerable.Range(0, length).Select(i => (byte)(i * 31 + 7)).ToArray();
        foreach (uint? key in new uint?[] { null, 0xDEADBEEF })
        {
            var writer = new ArrayBufferWriter<byte>();
            FrameWriter.WriteFrame(writer, Opcode.Binary, true, 0, payload, key);
            var frame = Assert.Single(Frames.ParseAll(writer.WrittenSpan));
            Assert.Equal(key.HasValue, frame.Masked);
            Assert.Equal(payload, frame.Payload);
        }
    }

    [Fact]
    public void Frame_writer_masks_correctly_when_the_writer_offers_small_odd_chunks()
    {
        var payload = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var writer = new SmallChunkWriter(7);
        FrameWriter.WriteFrame(writer, Opcode.Binary, false, 0, payload, 0xA1B2C3D4);
        var frame = Assert.Single(Frames.ParseAll(writer.Written.ToArray()));
        Assert.False(frame.Fin);
        Assert.Equal(payload, frame.Payload);
    }

    /// <summary>A buffer writer that never offers more than a few bytes at a time, as a pipe with small segments might.</summary>
    private sealed class SmallChunkWriter(int chunk) : IBufferWriter<byte>
    {
        private byte[] _current = [];
        public List<byte> Written { get; } = [];

        public void Advance(int count) => Written.AddRange(_current.AsSpan(0, count).ToArray());

        public Memory<byte> GetMemory(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, chunk)];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}
