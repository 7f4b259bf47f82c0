using System.Text;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// The HTTP long-polling body of Engine.IO v4: packets joined by the record separator (0x1E), binary
/// messages as <c>b</c> + base64. Pure functions, no I/O.
/// </summary>
public static class EnginePayload
{
    /// <summary>The record separator (U+001E) between the packets of a payload.</summary>
    public const char Separator = '\x1e';

    /// <summary>
    /// Joins <paramref name="packets"/> into one polling body: each as <see cref="EnginePacket.ToPollingText"/>,
    /// separated by <see cref="Separator"/>. No packets give an empty string, which is not a valid payload.
    /// </summary>
    public static string Encode(IReadOnlyList<EnginePacket> packets)
    {
        if (packets.Count == 1) return packets[0].ToPollingText();
        var builder = new StringBuilder();
        for (int i = 0; i < packets.Count; i++)
        {
            if (i > 0) builder.Append(Separator);
            builder.Append(packets[i].ToPollingText());
        }
        return builder.ToString();
    }

    /// <summary>Splits and parses a payload; false when any packet in it is malformed.</summary>
    public static bool TryDecode(string payload, out List<EnginePacket> packets)
    {
        packets = new List<EnginePacket>();
        var rest = payload.AsSpan();
        while (true)
        {
            int end = rest.IndexOf(Separator);
            var item = end < 0 ? rest : rest[..end];
            if (!EnginePacket.TryParse(item, out var packet)) return false;
            packets.Add(packet);
            if (end < 0) return true;
            rest = rest[(end + 1)..];
        }
    }
}
