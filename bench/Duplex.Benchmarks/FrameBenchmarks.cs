using System.Buffers;
using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks;

/// <summary>
/// Frame header parse and write (RFC 6455 §5.2), the per-frame fixed cost, and one small message in and
/// out of <see cref="WebSocketProtocol"/> (the whole sans-I/O cost a connection pays per message).
/// </summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private readonly byte[] _small = new byte[14];
    private readonly byte[] _large = new byte[14];
    private readonly byte[] _destination = new byte[14];
    private readonly byte[] _message32 = new byte[6 + 32];
    private readonly WebSocketProtocol _server = new(WebSocketRole.Server);
    private readonly ArrayBufferWriter<byte> _output = new(1024);

    [GlobalSetup]
    public void Setup()
    {
        FrameHeader.Write(_small, true, 0, Opcode.Binary, 32, 0x12345678);
        FrameHeader.Write(_large, true, 0, Opcode.Binary, 1 << 20, 0x12345678);
        FrameHeader.Write(_message32, true, 0, Opcode.Binary, 32, 0x12345678);
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

    /// <summary>A masked 32-byte message through the protocol: judged, unmasked, assembled, handed out.</summary>
    [Benchmark]
    public int ReceiveMessage32B()
    {
        var input = new ReadOnlySequence<byte>(_message32);
        _server.Receive(ref input);
        var data = _server.TakeMessage(out int length);
        if (data is not null) ArrayPool<byte>.Shared.Return(data);
        return length;
    }

    /// <summary>A 32-byte server message framed by the protocol into a buffer writer.</summary>
    [Benchmark]
    public int WriteMessage32B()
    {
        _output.ResetWrittenCount();
        return _server.WriteMessage(_output, Opcode.Binary, _message32.AsSpan(6));
    }

    [Benchmark]
    public int WriteServerHeader32B() => FrameHeader.Write(_destination, true, 0, Opcode.Binary, 32, null);

    [Benchmark]
    public int WriteClientHeader64KiB() => FrameHeader.Write(_destination, true, 0, Opcode.Binary, 65536, 0x12345678);
}
