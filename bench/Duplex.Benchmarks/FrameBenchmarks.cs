using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks;

/// <summary>Frame header parse and write (RFC 6455 §5.2), the per-frame fixed cost.</summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private readonly byte[] _small = new byte[14];
    private readonly byte[] _large = new byte[14];
    private readonly byte[] _destination = new byte[14];
    private readonly FrameReader _reader = new(new FrameReaderOptions { Role = WebSocketRole.Server, MaxMessageSize = 1 << 30 });

    [GlobalSetup]
    public void Setup()
    {
        FrameHeader.Write(_small, true, 0, Opcode.Binary, 32, 0x12345678);
        FrameHeader.Write(_large, true, 0, Opcode.Binary, 1 << 20, 0x12345678);
    }

    [Benchmark]
    public long ParseHeader32B()
    {
        FrameHeader.TryParse(_small, out var header);
        return header.PayloadLength;
    }

    [Benchmark]
    public long ParseHeader1MiB()
    {
        FrameHeader.TryParse(_large, out var header);
        return header.PayloadLength;
    }

    /// <summary>Parse plus the RFC checks the server applies to every frame.</summary>
    [Benchmark]
    public long ReadAndJudgeHeader32B()
    {
        _reader.TryReadHeader(_small, out var header, out _);
        _reader.ProcessPayload(Span<byte>.Empty, out _);
        _reader.CompleteDataFrame(out _);
        return header.PayloadLength;
    }

    [Benchmark]
    public int WriteServerHeader32B() => FrameHeader.Write(_destination, true, 0, Opcode.Binary, 32, null);

    [Benchmark]
    public int WriteClientHeader64KiB() => FrameHeader.Write(_destination, true, 0, Opcode.Binary, 65536, 0x12345678);
}
