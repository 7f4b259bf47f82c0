using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks;

/// <summary>XOR masking (RFC 6455 §5.3), vectorised; every client frame is unmasked by the server.</summary>
[MemoryDiagnoser]
public class MaskingBenchmarks
{
    private byte[] _data = [];

    [Params(32, 1024, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(1).NextBytes(_data);
    }

    [Benchmark]
    public int Mask() => Masking.Apply(_data, 0x9ABCDEF0, 0);

    /// <summary>Starting mid-key, as a payload split across reads does.</summary>
    [Benchmark]
    public int MaskAtOffset3() => Masking.Apply(_data, 0x9ABCDEF0, 3);
}
