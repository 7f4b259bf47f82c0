using System.Text;

namespace Duplex.Conformance.Cases;

/// <summary>Payload builders the cases share.</summary>
internal static class Payload
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static byte[] Filled(byte value, int length)
    {
        var payload = new byte[length];
        payload.AsSpan().Fill(value);
        return payload;
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static string Size(int octets) =>
        octets >= 1 << 20 && octets % (1 << 20) == 0 ? $"{octets >> 20} MiB"
        : octets >= 1 << 10 && octets % (1 << 10) == 0 ? $"{octets >> 10} KiB"
        : $"{octets} octets";
}

/// <summary>Close codes of RFC 6455 §7.4.1 the cases refer to.</summary>
internal static class CloseCode
{
    public const int Normal = 1000;
    public const int GoingAway = 1001;
    public const int ProtocolError = 1002;
    public const int InvalidPayload = 1007;
}
