using BenchmarkDotNet.Attributes;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex.Benchmarks;

/// <summary>permessage-deflate (RFC 7692): one message compressed and inflated, with and without context takeover.</summary>
[MemoryDiagnoser]
public class DeflateBenchmarks
{
    private byte[] _message = [];
    private byte[] _compressed = [];
    private MessageDeflater _deflater = null!;
    private MessageInflater _inflater = null!;
    private PooledBufferWriter _output = null!;
    private PooledBufferWriter _inflated = null!;

    [Params(128, 16384)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool NoContextTakeover { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // JSON-like text: compressible, not trivially so.
        var random = new Random(1);
        var text = new System.Text.StringBuilder();
        while (text.Length < Size)
            text.Append("{\"id\":").Append(random.Next(100000)).Append(",\"name\":\"user").Append(random.Next(1000)).Append("\",\"online\":true},");
        _message = System.Text.Encoding.UTF8.GetBytes(text.ToString(0, Size));
        _deflater = new MessageDeflater(15, NoContextTakeover);
        _inflater = new MessageInflater(15, NoContextTakeover);
        _output = new PooledBufferWriter(Size + 64);
        _inflated = new PooledBufferWriter(Size + 64);
        // Independent messages for inflate: a fresh deflater per sample, no shared context.
        using var oneShot = new MessageDeflater(15, noContextTakeover: true);
        var w = new PooledBufferWriter(Size + 64);
        oneShot.CompressMessage(_message, w);
        _compressed = w.WrittenSpan.ToArray();
        w.Dispose();
    }

    [Benchmark]
    public int Deflate()
    {
        _output.Clear();
        _deflater.CompressMessage(_message, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int Inflate()
    {
        _inflated.Clear();
        _inflater.Inflate(_compressed, endOfMessage: true, 1 << 20, _inflated, out _);
        return _inflated.WrittenCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _deflater.Dispose();
        _inflater.Dispose();
        _output.Dispose();
        _inflated.Dispose();
    }
}
