namespace Duplex.Conformance.Session;

/// <summary>What permessage-deflate did on one connection, for the report (Autobahn reports a compression ratio too).</summary>
internal sealed class CompressionStats
{
    public int MessagesSent { get; private set; }
    public long OctetsSent { get; private set; }
    public long CompressedOctetsSent { get; private set; }
    public int CompressedMessagesReceived { get; private set; }
    public int UncompressedMessagesReceived { get; private set; }
    public long OctetsReceived { get; private set; }
    public long CompressedOctetsReceived { get; private set; }

    public void Sent(long octets, long compressed)
    {
        MessagesSent++;
        OctetsSent += octets;
        CompressedOctetsSent += compressed;
    }

    public void Received(long octets, long compressed)
    {
        CompressedMessagesReceived++;
        OctetsReceived += octets;
        CompressedOctetsReceived += compressed;
    }

    public void ReceivedUncompressed(long octets)
    {
        UncompressedMessagesReceived++;
        OctetsReceived += octets;
        CompressedOctetsReceived += octets;
    }

    public string Describe() =>
        $"permessage-deflate: sent {MessagesSent} compressed messages, {OctetsSent} octets as {CompressedOctetsSent} ({Ratio(CompressedOctetsSent, OctetsSent)}); "
        + $"received {CompressedMessagesReceived} compressed and {UncompressedMessagesReceived} uncompressed messages, "
        + $"{OctetsReceived} octets as {CompressedOctetsReceived} ({Ratio(CompressedOctetsReceived, OctetsReceived)})";

    private static string Ratio(long compressed, long octets) =>
        octets == 0 ? "ratio n/a" : $"ratio {(double)compressed / octets:0.000}";
}
