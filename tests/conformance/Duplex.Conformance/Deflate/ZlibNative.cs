using System.Runtime.InteropServices;

namespace Duplex.Conformance.Deflate;

/// <summary>
/// The harness's own binding to zlib: the .NET runtime ships zlib as <c>System.IO.Compression.Native</c>,
/// whose <c>CompressionNative_*</c> exports take a <see cref="ZStream"/> (the runtime's PAL_ZStream, see
/// src/native/libs/System.IO.Compression.Native/pal_zlib.h in dotnet/runtime). Going to zlib directly
/// is what gives the harness the window-bits control RFC 7692 negotiates, which DeflateStream lacks,
/// and keeps the harness independent of Duplex's own permessage-deflate.
/// </summary>
internal static unsafe partial class ZlibNative
{
    private const string Library = "System.IO.Compression.Native";

    public const int Ok = 0;
    public const int StreamEnd = 1;
    public const int BufError = -5;
    public const int DataError = -3;

    public const int NoFlush = 0;
    // zlib's Z_SYNC_FLUSH: ends the output on a byte boundary with an empty stored block (00 00 FF FF),
    // the shape RFC 7692 §7.2.1 builds messages from. The runtime passes flush values through to zlib.
    public const int SyncFlush = 2;

    public const int DefaultCompression = -1;
    public const int Deflated = 8;
    public const int DefaultMemLevel = 8;
    public const int DefaultStrategy = 0;

    /// <summary>PAL_ZStream: the part of z_stream the runtime exposes; the real z_stream sits behind <see cref="InternalState"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public byte* Message;
        public nint InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

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

    public static string Describe(int code, ZStream* stream) =>
        (stream->Message is null ? "" : Marshal.PtrToStringAnsi((nint)stream->Message) + " ") + $"(zlib {code})";
}
