using System.Buffers;
using System.IO.Compression;
using System.Text;
using Duplex.Protocol.Deflate;

namespace Duplex.Tests.Deflate;

/// <summary>Payloads and helpers shared by the compression tests.</summary>
internal static class DeflateTestData
{
    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    /// <summary>Text that compresses the way chat and JSON traffic does.</summary>
    public static byte[] Text(int length, int seed)
    {
        var random = new Random(seed);
        string[] words = ["{\"type\":", "\"message\"", ",\"user\":", "\"alice\"", "\"bob\"", ",\"text\":\"", "hello ", "world ", "duplex ", "}", "\n"];
        var sb = new StringBuilder(length + 16);
        while (sb.Length < length) sb.Append(words[random.Next(words.Length)]);
        return Encoding.UTF8.GetBytes(sb.ToString(0, length));
    }

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static byte[] Compress(MessageDeflater deflater, ReadOnlySpan<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>();
        deflater.CompressMessage(payload, writer);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] Decompress(MessageInflater inflater, ReadOnlySpan<byte> compressed, long limit = 64 * 1024 * 1024)
    {
        var writer = new ArrayBufferWriter<byte>();
        var status = inflater.Inflate(compressed, endOfMessage: true, limit, writer, out var error);
        Assert.True(status == InflateStatus.Done, $"{status}: {error}");
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decompresses a message with the BCL's DeflateStream, an inflater independent of ours: the
    /// stripped tail is put back and an empty final fixed-Huffman block (03 00) ends the stream.
    /// </summary>
    public static byte[] DecompressWithDeflateStream(ReadOnlySpan<byte> compressed)
    {
        var whole = new byte[compressed.Length + 6];
        compressed.CopyTo(whole);
        Hex("0000FFFF 0300").CopyTo(whole, compressed.Length);
        using var inflate = new DeflateStream(new MemoryStream(whole), CompressionMode.Decompress);
        var result = new MemoryStream();
        inflate.CopyTo(result);
        return result.ToArray();
    }
}

/// <summary>
/// An IBufferWriter that hands out spans of exactly the size asked for, each from a fresh segment,
/// and refuses to hold more than its capacity: it exercises boundary handling and proves how much
/// output a writer was ever asked to make room for.
/// </summary>
internal sealed class StingyBufferWriter(long capacity = long.MaxValue) : IBufferWriter<byte>
{
    private readonly List<byte[]> _segments = [];
    private byte[]? _current;

    public long WrittenCount { get; private set; }

    /// <summary>The most output space ever handed out: written bytes plus the span last asked for.</summary>
    public long MostReserved { get; private set; }

    public void Advance(int count)
    {
        if (_current is null || count > _current.Length) throw new InvalidOperationException("Advanced past the span handed out.");
        _segments.Add(_current[..count]);
        WrittenCount += count;
        _current = null;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        int size = Math.Max(sizeHint, 1);
        if (WrittenCount + size > capacity) throw new InvalidOperationException($"Asked for {size} bytes beyond {WrittenCount} of a {capacity}-byte budget.");
        MostReserved = Math.Max(MostReserved, WrittenCount + size);
        _current = new byte[size];
        return _current;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public byte[] ToArray()
    {
        var all = new byte[WrittenCount];
        int offset = 0;
        foreach (var s in _segments)
        {
            s.CopyTo(all, offset);
            offset += s.Length;
        }
        return all;
    }
}
