using System.Buffers;

namespace Duplex.Protocol;

/// <summary>Encodes frames into a buffer writer (RFC 6455 §5.2), masking when given a key.</summary>
public static class FrameWriter
{
    /// <summary>Writes one whole frame: header, then the payload (masked copy when a key is given).</summary>
    public static void WriteFrame(IBufferWriter<byte> output, Opcode opcode, bool fin, byte rsv, ReadOnlySpan<byte> payload, uint? maskKey)
    {
        int headerLength = FrameHeader.GetLength(payload.Length, maskKey.HasValue);
        // Small frames go out in one span; large ones are copied in whatever chunks the writer offers,
        // so a 16 MiB payload never needs a 16 MiB contiguous buffer.
        var span = output.GetSpan(payload.Length <= SingleSpanLimit ? headerLength + payload.Length : headerLength);
        FrameHeader.Write(span, fin, rsv, opcode, payload.Length, maskKey);
        if (span.Length >= headerLength + payload.Length)
        {
            var body = span.Slice(headerLength, payload.Length);
            payload.CopyTo(body);
            if (maskKey is uint key) Masking.Apply(body, key, 0);
            output.Advance(headerLength + payload.Length);
            return;
        }
        output.Advance(headerLength);
        int keyOffset = 0;
        while (!payload.IsEmpty)
        {
            var destination = output.GetSpan();
            int n = Math.Min(destination.Length, payload.Length);
            payload.Slice(0, n).CopyTo(destination);
            if (maskKey is uint key) keyOffset = Masking.Apply(destination.Slice(0, n), key, keyOffset);
            output.Advance(n);
            payload = payload.Slice(n);
        }
    }

    private const int SingleSpanLimit = 4096;

    /// <summary>Encodes a close frame payload: the code, big-endian, then the UTF-8 reason.</summary>
    public static int WriteClosePayload(Span<byte> destination, CloseStatus status, string? reason)
    {
        destination[0] = (byte)((ushort)status >> 8);
        destination[1] = (byte)status;
        if (string.IsNullOrEmpty(reason)) return 2;
        return 2 + System.Text.Encoding.UTF8.GetBytes(reason, destination.Slice(2));
    }

    /// <summary>Largest close reason in UTF-8 bytes: control payloads hold 125 bytes, 2 go to the code.</summary>
    public const int MaxCloseReasonBytes = 123;
}
