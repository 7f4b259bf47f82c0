using Duplex.Conformance.Deflate;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 13, permessage-deflate with different parameters (RFC 7692 §7.1): the JSON payload of 12.1
/// at the same 18 sizes, with Autobahn's seven combinations of what the harness offers as a client
/// (server_no_context_takeover, server_max_window_bits) and what it asks for when it accepts as a
/// server (client_no_context_takeover, client_max_window_bits). A server that declines the offer, or a
/// client whose offer cannot take the acceptance (no client_max_window_bits in it), is UNIMPLEMENTED.
/// </summary>
internal static class Chapter13DeflateParameters
{
    private static DeflateOffer Offer(bool serverNoContextTakeover, int serverMaxWindowBits) =>
        DeflateOffer.AutobahnDefault with
        {
            ServerNoContextTakeover = serverNoContextTakeover,
            ServerMaxWindowBits = serverMaxWindowBits == 0 ? null : serverMaxWindowBits,
        };

    // Autobahn's DEFLATE_PARAMS: the client offers and the server's acceptance for 13.1-13.7.
    private static readonly (DeflateOffer[] Offers, DeflateAcceptPolicy Accept)[] Combinations =
    [
        ([Offer(false, 0)], new((false, 0))),
        ([Offer(true, 0)], new((true, 0))),
        ([Offer(false, 8)], new((false, 8))),
        ([Offer(false, 15)], new((false, 15))),
        ([Offer(true, 8)], new((true, 8))),
        ([Offer(true, 15)], new((true, 15))),
        ([Offer(true, 8), Offer(true, 0), Offer(false, 0)], new((true, 8), (true, 0), (false, 0))),
    ];

    public static IEnumerable<ConformanceCase> Cases(CaseSizes sizes)
    {
        for (int j = 0; j < Combinations.Length; j++)
        {
            var (offers, accept) = Combinations[j];
            string parameters = "Client offers (server_no_context_takeover, server_max_window_bits): ["
                + string.Join(", ", offers.Select(o => $"({(o.ServerNoContextTakeover ? "True" : "False")}, {o.ServerMaxWindowBits ?? 0})"))
                + $"] / server accepts (client_no_context_takeover, client_max_window_bits): {accept.Describe()}.";
            foreach (var c in CompressedEcho.Section($"13.{j + 1}", sizes, Chapter12DeflatePayloads.Files[0], offers, accept, parameters))
            {
                yield return c;
            }
        }
    }
}
