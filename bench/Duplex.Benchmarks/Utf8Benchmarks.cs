using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks;

/// <summary>Streaming UTF-8 validation of text payloads (RFC 6455 §8.1), against the BCL's one-shot check.</summary>
[MemoryDiagnoser]
public class Utf8Benchmarks
{
    private byte[] _ascii = [];
    private byte[] _mixed = [];

    [Params(32, 1024, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _ascii = new byte[Size];
        for (int i = 0; i < Size; i++) _ascii[i] = (byte)random.Next(0x20, 0x7F);
        // Mostly ASCII with two- and three-byte characters sprinkled in (JSON with names in it).
        var text = new System.Text.StringBuilder();
        while (System.Text.Encoding.UTF8.GetByteCount(text.ToString()) < Size)
            text.Append(random.Next(8) switch { 0 => "é", 1 => "€", _ => "a" });
        _mixed = System.Text.Encoding.UTF8.GetBytes(text.ToString())[..Size];
        // Do not end inside a character: trim back to a boundary.
        int end = Size;
        while (end > 0 && (_mixed[end - 1] & 0xC0) == 0x80) end--;
        if (end > 0 && _mixed[end - 1] >= 0xC0) end--;
        _mixed = _mixed[..end];
    }

    [Benchmark(Baseline = true)]
    public bool Ascii()
    {
        var v = new Utf8Validator();
        return v.Feed(_ascii) && v.IsComplete;
    }

    [Benchmark]
    public bool Mixed()
    {
        var v = new Utf8Validator();
        return v.Feed(_mixed) && v.IsComplete;
    }

    [Benchmark]
    public bool MixedBclOneShot() => System.Text.Unicode.Utf8.IsValid(_mixed);
}
