namespace Duplex.Conformance.Cases;

/// <summary>Every case, in Autobahn's order, plus chapter titles for reports.</summary>
internal static class CaseCatalog
{
    public static readonly IReadOnlyDictionary<int, string> ChapterTitles = new Dictionary<int, string>
    {
        [1] = "Framing",
        [2] = "Pings/Pongs",
        [3] = "Reserved Bits",
        [4] = "Opcodes",
        [5] = "Fragmentation",
        [6] = "UTF-8 Handling",
        [7] = "Close Handling",
        [9] = "Limits/Performance",
        [10] = "Auto-Fragmentation",
        [12] = "Deflate Payloads",
        [13] = "Deflate Parameters",
    };

    public static IReadOnlyList<ConformanceCase> All(CaseSizes sizes) =>
    [
        .. Chapter1Framing.Cases(),
        .. Chapter2PingPong.Cases(),
        .. Chapter3ReservedBits.Cases(),
        .. Chapter4Opcodes.Cases(),
        .. Chapter5Fragmentation.Cases(),
        .. Chapter6Utf8.Cases(),
        .. Chapter7Close.Cases(),
        .. Chapter9Limits.Cases(sizes),
        .. Chapter10AutoFragmentation.Cases(),
        .. Chapter12DeflatePayloads.Cases(sizes),
        .. Chapter13DeflateParameters.Cases(sizes),
    ];
}
