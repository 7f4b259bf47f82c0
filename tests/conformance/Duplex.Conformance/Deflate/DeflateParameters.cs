using System.Globalization;

namespace Duplex.Conformance.Deflate;

/// <summary>
/// One permessage-deflate offer (RFC 7692 §7.1), as a client sends it. <see cref="ClientMaxWindowBits"/>
/// is true when the parameter is present (the client can limit its window); its optional value is a hint.
/// </summary>
internal sealed record DeflateOffer(
    bool ClientNoContextTakeover,
    bool ClientMaxWindowBits,
    bool ServerNoContextTakeover,
    int? ServerMaxWindowBits,
    int? ClientMaxWindowBitsHint = null)
{
    public const string Name = "permessage-deflate";

    /// <summary>Autobahn's offer with no request of its own: the client accepts both limits the server may set.</summary>
    public static DeflateOffer AutobahnDefault { get; } = new(ClientNoContextTakeover: true, ClientMaxWindowBits: true, ServerNoContextTakeover: false, ServerMaxWindowBits: null);

    /// <summary>The header element, with parameters in the order Autobahn writes them.</summary>
    public override string ToString()
    {
        var text = Name;
        if (ClientNoContextTakeover)
        {
            text += "; client_no_context_takeover";
        }
        if (ClientMaxWindowBits)
        {
            text += ClientMaxWindowBitsHint is int hint ? $"; client_max_window_bits={hint}" : "; client_max_window_bits";
        }
        if (ServerNoContextTakeover)
        {
            text += "; server_no_context_takeover";
        }
        if (ServerMaxWindowBits is int bits)
        {
            text += $"; server_max_window_bits={bits}";
        }
        return text;
    }

    /// <summary>
    /// Reads an offer element. RFC 7692 §7.1: an offer with an unknown parameter, a parameter given twice
    /// or an invalid value must be declined; the reason comes back in <paramref name="error"/>.
    /// </summary>
    public static DeflateOffer? FromElement(ExtensionElement element, out string? error)
    {
        bool clientNoContext = false, clientBits = false, serverNoContext = false;
        int? serverBits = null, clientHint = null;
        error = DeflateParameterRules.Check(element, isResponse: false, (key, bits) =>
        {
            switch (key)
            {
                case "client_no_context_takeover": clientNoContext = true; break;
                case "server_no_context_takeover": serverNoContext = true; break;
                case "client_max_window_bits": clientBits = true; clientHint = bits; break;
                case "server_max_window_bits": serverBits = bits; break;
            }
        });
        return error is null ? new DeflateOffer(clientNoContext, clientBits, serverNoContext, serverBits, clientHint) : null;
    }
}

/// <summary>
/// What both ends agreed, read from the server's response (RFC 7692 §7.1): who resets its context per
/// message and the largest LZ77 window each direction may use (15 when not limited).
/// </summary>
internal sealed record DeflateAgreement(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int ServerMaxWindowBits, int ClientMaxWindowBits)
{
    public static DeflateAgreement? FromResponse(ExtensionElement element, out string? error)
    {
        bool clientNoContext = false, serverNoContext = false;
        int? clientBits = null, serverBits = null;
        error = DeflateParameterRules.Check(element, isResponse: true, (key, bits) =>
        {
            switch (key)
            {
                case "client_no_context_takeover": clientNoContext = true; break;
                case "server_no_context_takeover": serverNoContext = true; break;
                case "client_max_window_bits": clientBits = bits; break;
                case "server_max_window_bits": serverBits = bits; break;
            }
        });
        return error is null ? new DeflateAgreement(serverNoContext, clientNoContext, serverBits ?? 15, clientBits ?? 15) { ServerBitsGiven = serverBits is not null, ClientBitsGiven = clientBits is not null } : null;
    }

    public bool ServerBitsGiven { get; init; }
    public bool ClientBitsGiven { get; init; }

    /// <summary>
    /// Why this response cannot answer <paramref name="offer"/>, or null when it can (RFC 7692 §7.1.1.1,
    /// §7.1.2.1, §7.1.2.2: the client must fail the connection otherwise).
    /// </summary>
    public string? MismatchWith(DeflateOffer offer) =>
        offer.ServerNoContextTakeover && !ServerNoContextTakeover
            ? "the offer asked for server_no_context_takeover and the response lacks it (RFC 7692 §7.1.1.1)"
        : offer.ServerMaxWindowBits is int asked && (!ServerBitsGiven || ServerMaxWindowBits > asked)
            ? $"the offer asked for server_max_window_bits={asked} and the response {(ServerBitsGiven ? $"has {ServerMaxWindowBits}" : "lacks it")} (RFC 7692 §7.1.2.1)"
        : ClientBitsGiven && !offer.ClientMaxWindowBits
            ? "the response has client_max_window_bits but the offer did not include it (RFC 7692 §7.1.2.2)"
        : null;

    /// <summary>
    /// Checks a server's whole Sec-WebSocket-Extensions response against the offers the harness sent
    /// (only permessage-deflate is ever offered) and returns the agreement, or null and the reason the
    /// client must fail the connection.
    /// </summary>
    public static DeflateAgreement? CheckResponse(string offerHeader, string responseHeader, out string? error)
    {
        var offers = ExtensionHeader.Parse(offerHeader, out _)!.Select(e => DeflateOffer.FromElement(e, out _)!).ToList();
        var elements = ExtensionHeader.Parse(responseHeader, out error);
        if (elements is null)
        {
            error = $"malformed Sec-WebSocket-Extensions '{responseHeader}': {error}";
            return null;
        }
        if (elements.Count != 1 || !elements[0].Name.Equals(DeflateOffer.Name, StringComparison.OrdinalIgnoreCase))
        {
            // RFC 6455 §4.1: the response may only name extensions the client offered, and RFC 7692 §7
            // allows one permessage-deflate element in a response.
            error = $"the response '{responseHeader}' is not one permessage-deflate element";
            return null;
        }
        var agreement = FromResponse(elements[0], out error);
        if (agreement is null)
        {
            error = $"invalid permessage-deflate response '{responseHeader}': {error}";
            return null;
        }
        var mismatches = offers.Select(agreement.MismatchWith).ToList();
        if (mismatches.All(m => m is not null))
        {
            error = $"the response '{responseHeader}' answers none of the offers: {mismatches[0]}";
            return null;
        }
        return agreement;
    }

    public override string ToString() =>
        $"server_no_context_takeover={ServerNoContextTakeover}, client_no_context_takeover={ClientNoContextTakeover}, server_max_window_bits={ServerMaxWindowBits}, client_max_window_bits={ClientMaxWindowBits}";
}

/// <summary>
/// How a case answers a client's offer when the harness is the server: Autobahn's <c>accept</c>
/// functions of chapters 12 and 13. Each alternative is (client_no_context_takeover to request,
/// client_max_window_bits to request or 0); alternatives are tried in order, each against every
/// offer in order, and the first offer that can take it is accepted.
/// </summary>
internal sealed class DeflateAcceptPolicy(params (bool RequestClientNoContextTakeover, int RequestClientMaxWindowBits)[] alternatives)
{
    public IReadOnlyList<(bool RequestClientNoContextTakeover, int RequestClientMaxWindowBits)> Alternatives { get; } = alternatives;

    public string Describe() =>
        "[" + string.Join(", ", Alternatives.Select(a => $"({(a.RequestClientNoContextTakeover ? "True" : "False")}, {a.RequestClientMaxWindowBits})")) + "]";

    /// <summary>The Sec-WebSocket-Extensions response for the client's header, or null to decline.</summary>
    public string? Respond(string? offerHeader)
    {
        if (offerHeader is null)
        {
            return null;
        }
        var elements = ExtensionHeader.Parse(offerHeader, out _);
        if (elements is null)
        {
            return null;
        }
        // RFC 7692 §7.1: offers with unknown, repeated or invalid parameters are declined, the rest kept in order.
        var offers = elements
            .Where(e => e.Name.Equals(DeflateOffer.Name, StringComparison.OrdinalIgnoreCase))
            .Select(e => DeflateOffer.FromElement(e, out _))
            .OfType<DeflateOffer>()
            .ToList();
        foreach (var (noContext, bits) in Alternatives)
        {
            foreach (var offer in offers)
            {
                // A server may always ask the client to drop its context (RFC 7692 §7.1.1.2), but may only
                // limit the client's window when the client said it can (§7.1.2.2).
                if (bits != 0 && !offer.ClientMaxWindowBits)
                {
                    continue;
                }
                var response = DeflateOffer.Name;
                // RFC 7692 §7.1.1.1 and §7.1.2.1: a server accepting these requests must confirm them.
                if (offer.ServerNoContextTakeover)
                {
                    response += "; server_no_context_takeover";
                }
                if (offer.ServerMaxWindowBits is int serverBits)
                {
                    response += $"; server_max_window_bits={serverBits}";
                }
                if (noContext)
                {
                    response += "; client_no_context_takeover";
                }
                if (bits != 0)
                {
                    response += $"; client_max_window_bits={bits}";
                }
                return response;
            }
        }
        return null;
    }
}

/// <summary>Parameter rules shared by offers and responses (RFC 7692 §7.1).</summary>
internal static class DeflateParameterRules
{
    /// <summary>Returns why the element is invalid, or null; calls <paramref name="accept"/> for every valid parameter.</summary>
    public static string? Check(ExtensionElement element, bool isResponse, Action<string, int?> accept)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (rawKey, value) in element.Parameters)
        {
            string key = rawKey.ToLowerInvariant();
            if (!seen.Add(key))
            {
                return $"parameter '{key}' appears twice";
            }
            switch (key)
            {
                case "client_no_context_takeover" or "server_no_context_takeover":
                    if (value is not null)
                    {
                        return $"'{key}' takes no value (got '{value}')";
                    }
                    accept(key, null);
                    break;
                case "server_max_window_bits" or "client_max_window_bits":
                    // Only an offer's client_max_window_bits may come without a value (RFC 7692 §7.1.2.2).
                    if (value is null)
                    {
                        if (key == "server_max_window_bits" || isResponse)
                        {
                            return $"'{key}' needs a value";
                        }
                        accept(key, null);
                        break;
                    }
                    // RFC 7692 §7.1.2: a decimal integer from 8 to 15 without leading zeros.
                    if (value.Length is < 1 or > 2 || value[0] == '0' || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int bits) || bits is < 8 or > 15)
                    {
                        return $"'{key}={value}' is not an integer from 8 to 15";
                    }
                    accept(key, bits);
                    break;
                default:
                    return $"unknown parameter '{key}'";
            }
        }
        return null;
    }
}
