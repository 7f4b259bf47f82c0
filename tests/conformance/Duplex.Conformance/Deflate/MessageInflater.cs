using System.Runtime.InteropServices;

namespace Duplex.Conformance.Deflate;

/// <summary>
/// Decompresses one message at a time as RFC 7692 §7.2.2 says: append 00 00 FF FF to the payload and
/// inflate it as raw DEFLATE. The window is the one the peer agreed to compress with, so a peer that
/// reaches further back than it negotiated is caught ("invalid distance too far back"). Without the
/// peer's context takeover the inflater starts every message empty, as Autobahn's does, so a peer
/// that keeps its context anyway is caught too.
/// </summary>
internal sealed unsafe class MessageInflater : IDisposable
{
    private readonly int _windowBits;
    private readonly bool _noContextTakeover;
    private readonly long _maxMessageLength;
    private ZlibNative.ZStream* _stream;
    private bool _used;

    public MessageInflater(int windowBits, bool noContextTakeover, long maxMessageLength)
    {
        _windowBits = windowBits;
        _noContextTakeover = noContextTakeover;
        _maxMessageLength = maxMessageLength;
        _stream = (ZlibNative.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZlibNative.ZStream));
        Init();
    }

    /// <summary>Notes about the stream worth reporting (e.g. a final block that forced a fresh inflater).</summary>
    public List<string> Notes { get; } = [];

    /// <summary>Inflates a whole message's payload; returns null and sets <paramref name="error"/> when it is not valid DEFLATE.</summary>
    public byte[]? Decompress(ReadOnlySpan<byte> compressed, out string? error)
    {
        error = null;
        if (_noContextTakeover && _used)
        {
            Restart();
        }
        _used = true;
        var input = new byte[compressed.Length + 4];
        compressed.CopyTo(input);
        MessageDeflater.Tail.CopyTo(input.AsSpan(compressed.Length));

        var output = new MemoryStream(compressed.Length * 4 + 64);
        var chunk = new byte[64 * 1024];
        fixed (byte* inBuffer = input)
        fixed (byte* outBuffer = chunk)
        {
            _stream->NextIn = inBuffer;
            _stream->AvailIn = (uint)input.Length;
            while (true)
            {
                _stream->NextOut = outBuffer;
                _stream->AvailOut = (uint)chunk.Length;
                int code = ZlibNative.Inflate(_stream, ZlibNative.NoFlush);
                int produced = chunk.Length - (int)_stream->AvailOut;
                output.Write(chunk, 0, produced);
                if (output.Length > _maxMessageLength)
                {
                    error = $"message inflates to more than {_maxMessageLength} octets";
                    break;
                }
                if (code == ZlibNative.StreamEnd)
                {
                    // The peer ended the DEFLATE stream (a block with BFINAL = 1); RFC 7692 §7.2.3.3 allows
                    // it. Whatever follows (our appended tail) is not part of it, and the next message
                    // needs a fresh stream, so the window cannot carry over.
                    Notes.Add("the peer ended a message with a final DEFLATE block (BFINAL = 1); the inflater was restarted");
                    Restart();
                    break;
                }
                if (code == ZlibNative.BufError || (code == ZlibNative.Ok && _stream->AvailIn == 0 && _stream->AvailOut != 0))
                {
                    // No progress possible: all input consumed and output not full.
                    break;
                }
                if (code != ZlibNative.Ok)
                {
                    error = "invalid DEFLATE data: " + ZlibNative.Describe(code, _stream);
                    break;
                }
            }
            _stream->NextIn = null;
            _stream->NextOut = null;
        }
        return error is null ? output.ToArray() : null;
    }

    private void Restart()
    {
        ZlibNative.InflateEnd(_stream);
        Init();
    }

    private void Init()
    {
        int code = ZlibNative.InflateInit2(_stream, -_windowBits);
        if (code != ZlibNative.Ok)
        {
            throw new InvalidOperationException($"inflateInit2 with window bits {_windowBits} failed " + ZlibNative.Describe(code, _stream));
        }
    }

    public void Dispose()
    {
        if (_stream is not null)
        {
            ZlibNative.InflateEnd(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }
    }
}
