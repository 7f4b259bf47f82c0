using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Duplex.Protocol;

/// <summary>The Sec-WebSocket-Key / Sec-WebSocket-Accept pair (RFC 6455 §4.1, §4.2.2).</summary>
public static class HandshakeKeys
{
    private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>A fresh key: 16 random bytes, base64 (RFC 6455 §4.1 item 7).</summary>
    public static string CreateKey()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes);
    }

    /// <summary>Whether a key decodes to exactly 16 bytes, as RFC 6455 §4.2.1 item 5 requires.</summary>
    public static bool IsValidKey(string? key)
    {
        if (key is null) return false;
        key = key.Trim();
        if (key.Length != 24) return false;
        Span<byte> bytes = stackalloc byte[18];
        return Convert.TryFromBase64String(key, bytes, out int written) && written == 16;
    }

    /// <summary>
    /// The Sec-WebSocket-Accept for <paramref name="key"/> (RFC 6455 §4.2.2): base64 of the SHA-1 of the
    /// trimmed key followed by the protocol's GUID. Any key is answered, whatever its length; a client
    /// only ever sends one <see cref="IsValidKey"/> accepts.
    /// </summary>
    public static string ComputeAccept(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var trimmed = key.AsSpan().Trim();
        // The header is Latin-1 text at most; ASCII encoding turns anything above 0x7F into '?', as it
        // always did here. A valid key (24 characters) plus the GUID (36) stays on the stack.
        int length = trimmed.Length + Guid.Length;
        byte[]? rented = null;
        Span<byte> input = length <= 128 ? stackalloc byte[128] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            int n = Encoding.ASCII.GetBytes(trimmed, input);
            n += Encoding.ASCII.GetBytes(Guid, input.Slice(n));
            Span<byte> hash = stackalloc byte[20];
            SHA1.HashData(input.Slice(0, n), hash);
            return Convert.ToBase64String(hash);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
