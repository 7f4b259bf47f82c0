using Duplex.Conformance.Deflate;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 12, permessage-deflate with different payloads (RFC 7692): the harness offers Autobahn's
/// default offer (<c>permessage-deflate; client_no_context_takeover; client_max_window_bits</c>) or,
/// as a server, accepts the client's first permessage-deflate offer as it stands; then it sends
/// compressed slices of each payload file at 18 sizes and fragmentations and checks every echo.
/// </summary>
internal static class Chapter12DeflatePayloads
{
    // In Autobahn's order of sections 12.1-12.5 (the order of its reports).
    public static readonly TestFile[] Files =
    [
        new("data1.json", "a large JSON data file", Binary: false),
        new("lena512.bmp", "the Lena picture, bitmap 512x512", Binary: true),
        new("pg2229.txt", "human readable text, Goethe's Faust I (German), sent as binary", Binary: true),
        new("data1.html", "a large HTML file", Binary: false),
        new("10.1.1.105.5439.pdf", "a larger PDF", Binary: true),
    ];

    public static IEnumerable<ConformanceCase> Cases(CaseSizes sizes)
    {
        var accept = new DeflateAcceptPolicy((false, 0));
        for (int j = 0; j < Files.Length; j++)
        {
            foreach (var c in CompressedEcho.Section($"12.{j + 1}", sizes, Files[j], [DeflateOffer.AutobahnDefault], accept, "Default permessage-deflate offer / acceptance."))
            {
                yield return c;
            }
        }
    }
}
