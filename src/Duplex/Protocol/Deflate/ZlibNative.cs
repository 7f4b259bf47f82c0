using System.Runtime.InteropServices;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// The zlib entry points of the runtime's own native compression library (the one
/// System.IO.Compression and the BCL's WebSocket deflate use), called directly because the managed
/// DeflateStream cannot choose a window size or flush a block without ending the stream, which
/// RFC 7692 §7.1.2 and §7.2.1 need. The library ships with every .NET runtime, so this adds no
/// dependency; its struct and functions are declared in dotnet/runtime's
/// src/native/libs/System.IO.Compression.Native/pal_zlib.h.
/// </summary>
internal static unsafe partial class ZlibNative
{
    private const string Library = "System.IO.Compression.Native";

    /// <summary>
    /// PAL_ZStream: the shim keeps zlib's own z_stream in <see cref="InternalState"/> and copies
    /// the four in/out fields across on every call, so this struct may live anywhere between calls.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public byte* Message;
        public void* InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    // zlib's constants (zlib.h); the shim asserts they pass through unchanged.
    public const int Ok = 0;
    public const int StreamEnd = 1;
    public const int NeedDictionary = 2;
    public const int StreamError = -2;
    public const int DataError = -3;
    public const int MemoryError = -4;
    public const int BufferError = -5;

    public const int NoFlush = 0;
    public const int SyncFlush = 2;
    public const int FullFlush = 3;

    public const int Deflated = 8;
    public const int DefaultStrategy = 0;
    public const int DefaultMemoryLevel = 8;

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateInit2_")]
    public static partial int DeflateInit2(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Deflate")]
    public static partial int Deflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateEnd")]
    public static partial int DeflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateInit2_")]
    public static partial int InflateInit2(ZStream* stream, int windowBits);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Inflate")]
    public static partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateEnd")]
    public static partial int InflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "CompressionNative_InflateReset2_")]
    public static partial int InflateReset2(ZStream* stream, int windowBits);

    /// <summary>zlib's message for the last error, if it set one.</summary>
    public static string? MessageOf(ZStream* stream) =>
        stream->Message is null ? null : Marshal.PtrToStringUTF8((nint)stream->Message);
}

/// <summary>
/// Owns one native zlib stream: the PAL_ZStream lives in native memory (so no pinning across calls)
/// and is ended by the SafeHandle's critical finalizer if the owner is never disposed.
/// </summary>
internal sealed unsafe class ZStreamHandle : SafeHandle
{
    private readonly bool _deflate;

    private ZStreamHandle(bool deflate) : base(IntPtr.Zero, ownsHandle: true)
    {
        _deflate = deflate;
        SetHandle((nint)NativeMemory.AllocZeroed((nuint)sizeof(ZlibNative.ZStream)));
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public ZlibNative.ZStream* Stream => (ZlibNative.ZStream*)handle;

    /// <param name="level">zlib compression level, 0 (store) to 9 (smallest).</param>
    /// <param name="windowBits">8–15; passed negated, which asks zlib for raw DEFLATE (RFC 1951) as RFC 7692 §7.2 uses.</param>
    /// <param name="memoryLevel">zlib memLevel, 1–9 (8 is zlib's default).</param>
    public static ZStreamHandle CreateDeflater(int level, int windowBits, int memoryLevel = ZlibNative.DefaultMemoryLevel)
    {
        var h = new ZStreamHandle(deflate: true);
        int rc = ZlibNative.DeflateInit2(h.Stream, level, ZlibNative.Deflated, -windowBits, memoryLevel, ZlibNative.DefaultStrategy);
        if (rc != ZlibNative.Ok) h.FailInit("deflateInit2", rc);
        return h;
    }

    public static ZStreamHandle CreateInflater(int windowBits)
    {
        var h = new ZStreamHandle(deflate: false);
        int rc = ZlibNative.InflateInit2(h.Stream, -windowBits);
        if (rc != ZlibNative.Ok) h.FailInit("inflateInit2", rc);
        return h;
    }

    private void FailInit(string function, int rc)
    {
        // A failed init leaves zlib's state unset, so the End in ReleaseHandle only frees the shim's
        // z_stream (zlib answers Z_STREAM_ERROR for a stream it never set up).
        Dispose();
        if (rc == ZlibNative.MemoryError) throw new OutOfMemoryException($"zlib {function} could not allocate its state.");
        throw new InvalidOperationException($"zlib {function} failed with {rc}.");
    }

    protected override bool ReleaseHandle()
    {
        var stream = (ZlibNative.ZStream*)handle;
        if (stream->InternalState is not null)
        {
            if (_deflate) ZlibNative.DeflateEnd(stream);
            else ZlibNative.InflateEnd(stream);
        }
        NativeMemory.Free(stream);
        return true;
    }
}
