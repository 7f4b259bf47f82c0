using System.Runtime.InteropServices;

namespace Duplex.Conformance.Deflate;

/// <summary>
/// Compresses one message at a time as RFC 7692 §7.2.1 says: raw DEFLATE, flushed to a byte boundary
/// with Z_SYNC_FLUSH, and the trailing empty stored block's 00 00 FF FF removed. With context
/// takeover the LZ77 window carries over to the next message; without it every message starts fresh.
/// </summary>
internal sealed unsafe class MessageDeflater : IDisposable
{
    private readonly int _windowBits;
    private readonly bool _noContextTakeover;
    private ZlibNative.ZStream* _stream;
    private bool _used;

    /// <param name="windowBits">The negotiated max_window_bits, 8 to 15.</param>
    public MessageDeflater(int windowBits, bool noContextTakeover)
    {
        // zlib refuses an 8-bit window for raw deflate and has always used 9 for 8 (deflateInit2 in zlib
        // 1.2.9 and later). Its deflater never emits a distance beyond the window minus 262 octets, so with
        // 9 bits every distance is at most 250 and a peer holding a 256-octet window can still inflate it.
        _windowBits = Math.Max(windowBits, 9);
        _noContextTakeover = noContextTakeover;
        _stream = (ZlibNative.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZlibNative.ZStream));
        Init();
    }

    /// <summary>The compressed payload of one message (what goes into frames whose first has RSV1 set).</summary>
    public byte[] Compress(ReadOnlySpan<byte> message)
    {
        if (_noContextTakeover && _used)
        {
            // RFC 7692 §7.1.1: without context takeover each message is compressed with an empty window.
            ZlibNative.DeflateEnd(_stream);
            Init();
        }
        _used = true;
        var output = new MemoryStream(message.Length / 2 + 64);
        var chunk = new byte[Math.Max(64 * 1024, message.Length / 4)];
        fixed (byte* input = message)
        fixed (byte* outBuffer = chunk)
        {
            _stream->NextIn = input;
            _stream->AvailIn = (uint)message.Length;
            while (true)
            {
                _stream->NextOut = outBuffer;
                _stream->AvailOut = (uint)chunk.Length;
                int code = ZlibNative.Deflate(_stream, ZlibNative.SyncFlush);
                if (code != ZlibNative.Ok && code != ZlibNative.BufError)
                {
                    throw new InvalidOperationException("deflate failed " + ZlibNative.Describe(code, _stream));
                }
                int produced = chunk.Length - (int)_stream->AvailOut;
                output.Write(chunk, 0, produced);
                // Output space left over means zlib has flushed everything it was given.
                if (_stream->AvailOut != 0 && _stream->AvailIn == 0)
                {
                    break;
                }
            }
            _stream->NextIn = null;
            _stream->NextOut = null;
        }
        var compressed = output.ToArray();
        // RFC 7692 §7.2.1: remove the 4 octets 00 00 FF FF that end the sync flush.
        if (compressed.Length < 4 || !compressed.AsSpan(compressed.Length - 4).SequenceEqual(Tail))
        {
            throw new InvalidOperationException("deflate output does not end with an empty stored block");
        }
        return compressed[..^4];
    }

    public static ReadOnlySpan<byte> Tail => [0x00, 0x00, 0xFF, 0xFF];

    private void Init()
    {
        int code = ZlibNative.DeflateInit2(_stream, ZlibNative.DefaultCompression, ZlibNative.Deflated, -_windowBits, ZlibNative.DefaultMemLevel, ZlibNative.DefaultStrategy);
        if (code != ZlibNative.Ok)
        {
            throw new InvalidOperationException($"deflateInit2 with window bits {_windowBits} failed " + ZlibNative.Describe(code, _stream));
        }
    }

    public void Dispose()
    {
        if (_stream is not null)
        {
            ZlibNative.DeflateEnd(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }
    }
}
