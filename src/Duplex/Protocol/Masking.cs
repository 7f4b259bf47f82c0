using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Duplex.Protocol;

/// <summary>
/// The XOR masking of RFC 6455 §5.3, vectorised. Masking and unmasking are the same operation.
/// Keys are handled as little-endian words, which .NET's supported platforms all are.
/// </summary>
public static class Masking
{
    /// <summary>
    /// XORs <paramref name="data"/> with the 4-byte key, starting at key byte <paramref name="keyOffset"/>
    /// (0–3) so a payload can be processed in chunks. Returns the key offset for the next chunk.
    /// </summary>
    /// <param name="data">The bytes to mask or unmask, in place.</param>
    /// <param name="maskKey">The key as it appears on the wire, read little-endian (byte 0 is the low byte).</param>
    /// <param name="keyOffset">The key byte that applies to <c>data[0]</c>: the chunk's offset in the payload, modulo 4.</param>
    public static int Apply(Span<byte> data, uint maskKey, int keyOffset)
    {
        if (data.IsEmpty) return keyOffset;
        // Rotate so that byte 0 of the rotated key applies to data[0].
        uint key = BitOperations.RotateRight(maskKey, keyOffset * 8);
        int i = 0;

        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            var keyVector = Vector.AsVectorByte(new Vector<uint>(key));
            var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (int v = 0; v < vectors.Length; v++) vectors[v] ^= keyVector;
            i = vectors.Length * Vector<byte>.Count;
        }
        // Vector<byte>.Count is a multiple of 4, so the key phase is unchanged here.
        if (data.Length - i >= 8)
        {
            ulong key64 = key | ((ulong)key << 32);
            var longs = MemoryMarshal.Cast<byte, ulong>(data.Slice(i));
            for (int l = 0; l < longs.Length; l++) longs[l] ^= key64;
            i += longs.Length * 8;
        }
        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(key >> ((i & 3) * 8));
        }
        return (keyOffset + data.Length) & 3;
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> masked.</summary>
    public static int CopyAndApply(ReadOnlySpan<byte> source, Span<byte> destination, uint maskKey, int keyOffset)
    {
        source.CopyTo(destination);
        return Apply(destination.Slice(0, source.Length), maskKey, keyOffset);
    }

    /// <summary>The masking key in its 4 wire bytes (the first 4 of <paramref name="fourBytes"/>), as <see cref="Apply"/> takes it.</summary>
    public static uint ReadKey(ReadOnlySpan<byte> fourBytes) => BinaryPrimitives.ReadUInt32LittleEndian(fourBytes);
}
