using System.Text;

namespace Duplex.Protocol.Deflate;

/// <summary>
/// Negotiates permessage-deflate in the opening handshake (RFC 7692 §5, §7.1), sans-I/O: header
/// values in, agreed <see cref="PerMessageDeflateParameters"/> and header values out.
/// </summary>
public static class PerMessageDeflateNegotiation
{
    /// <summary>The extension's name in Sec-WebSocket-Extensions (RFC 7692 §7), matched case-insensitively.</summary>
    public const string ExtensionName = "permessage-deflate";

    private const string ServerNoContextTakeover = "server_no_context_takeover";
    private const string ClientNoContextTakeover = "client_no_context_takeover";
    private const string ServerMaxWindowBits = "server_max_window_bits";
    private const string ClientMaxWindowBits = "client_max_window_bits";

    /// <summary>
    /// Server side: picks the first permessage-deflate offer in the request's Sec-WebSocket-Extensions
    /// values that is well-formed and acceptable under <paramref name="options"/> (RFC 7692 §5: the
    /// client lists offers in order of preference). Malformed offers are skipped, as §7.1 lets a
    /// server decline them. Returns false when none is accepted; then the response carries no
    /// permessage-deflate and RSV1 stays reserved.
    /// </summary>
    /// <param name="requestHeaderValues">The request's Sec-WebSocket-Extensions values, one per header line.</param>
    /// <param name="options">What the server accepts; nothing when <see cref="PerMessageDeflateOptions.Enabled"/>
    /// is false. Checked with <see cref="PerMessageDeflateOptions.Validate"/>, which throws on a value out of range.</param>
    /// <param name="agreed">The parameters in force once the response is sent, or null when none is accepted.</param>
    /// <param name="responseHeaderValue">The element for the response's Sec-WebSocket-Extensions.</param>
    public static bool TryAcceptOffer(IEnumerable<string?> requestHeaderValues, PerMessageDeflateOptions options,
        out PerMessageDeflateParameters? agreed, out string? responseHeaderValue)
    {
        agreed = null;
        responseHeaderValue = null;
        if (!options.Enabled) return false;
        options.Validate();
        foreach (var element in ExtensionHeader.Parse(requestHeaderValues))
        {
            if (!element.IsWellFormed || !IsPerMessageDeflate(element.Name)) continue;
            if (!TryReadOffer(element.Parameters, out var offer)) continue;
            agreed = Accept(offer, options, out responseHeaderValue);
            return true;
        }
        return false;
    }

    /// <summary>The parameters of one offer, as the client wrote them.</summary>
    private readonly record struct Offer(
        bool ServerNoContextTakeover,
        bool ClientNoContextTakeover,
        int? ServerMaxWindowBits,
        bool ClientMaxWindowBitsOffered,
        int? ClientMaxWindowBits);

    private static bool TryReadOffer(IReadOnlyList<ExtensionParameter> parameters, out Offer offer)
    {
        offer = default;
        bool seenServerNoContext = false, seenClientNoContext = false, seenServerBits = false, seenClientBits = false;
        int? serverBits = null, clientBits = null;
        foreach (var (name, value) in parameters)
        {
            // RFC 7692 §7.1: an offer with an unknown parameter, a repeated parameter or an invalid
            // value is declined.
            if (Is(name, ServerNoContextTakeover))
            {
                if (seenServerNoContext || value is not null) return false;
                seenServerNoContext = true;
            }
            else if (Is(name, ClientNoContextTakeover))
            {
                if (seenClientNoContext || value is not null) return false;
                seenClientNoContext = true;
            }
            else if (Is(name, ServerMaxWindowBits))
            {
                // RFC 7692 §7.1.2.1: server_max_window_bits always has a value.
                if (seenServerBits || !TryParseWindowBits(value, out var bits)) return false;
                seenServerBits = true;
                serverBits = bits;
            }
            else if (Is(name, ClientMaxWindowBits))
            {
                // RFC 7692 §7.1.2.2: in an offer the value may be left out.
                if (seenClientBits) return false;
                if (value is not null)
                {
                    if (!TryParseWindowBits(value, out var bits)) return false;
                    clientBits = bits;
                }
                seenClientBits = true;
            }
            else return false;
        }
        offer = new(seenServerNoContext, seenClientNoContext, serverBits, seenClientBits, clientBits);
        return true;
    }

    private static PerMessageDeflateParameters Accept(Offer offer, PerMessageDeflateOptions options, out string response)
    {
        // RFC 7692 §7.1.1.1: a server accepting server_no_context_takeover must honour it; it may
        // also declare it unasked.
        bool serverNoContext = offer.ServerNoContextTakeover || options.ServerNoContextTakeover;
        // RFC 7692 §7.1.1.2: the server may always ask the client to reset. When the client offered
        // to anyway, saying so in the response lets our decompressor reset (and catch a peer that
        // refers back anyway) without changing what the client does.
        bool clientNoContext = offer.ClientNoContextTakeover || options.ClientNoContextTakeover;
        // RFC 7692 §7.1.2.1: the response carries the same or a smaller value than the offer's; the
        // server may also name one unasked. Any 8–15 is within our means.
        int serverBits = Math.Min(offer.ServerMaxWindowBits ?? PerMessageDeflateParameters.MaxWindowBits, options.ServerMaxWindowBits);
        // RFC 7692 §7.1.2.2: the server may limit the client's window only if the client offered
        // client_max_window_bits; otherwise the client may use 15 and our decompressor must allow it.
        int clientBits = PerMessageDeflateParameters.MaxWindowBits;
        if (offer.ClientMaxWindowBitsOffered)
            clientBits = Math.Min(offer.ClientMaxWindowBits ?? PerMessageDeflateParameters.MaxWindowBits, options.ClientMaxWindowBits);

        var sb = new StringBuilder(ExtensionName);
        if (serverNoContext) sb.Append("; ").Append(ServerNoContextTakeover);
        if (clientNoContext) sb.Append("; ").Append(ClientNoContextTakeover);
        // An offered server_max_window_bits must be answered even when it is 15 (§7.1.2.1: accepting
        // the offer means including the parameter).
        if (offer.ServerMaxWindowBits is not null || serverBits < PerMessageDeflateParameters.MaxWindowBits)
            sb.Append("; ").Append(ServerMaxWindowBits).Append('=').Append(serverBits);
        if (clientBits < PerMessageDeflateParameters.MaxWindowBits)
            sb.Append("; ").Append(ClientMaxWindowBits).Append('=').Append(clientBits);
        response = sb.ToString();
        return new(serverNoContext, clientNoContext, serverBits, clientBits);
    }

    /// <summary>
    /// Client side: the Sec-WebSocket-Extensions element offering permessage-deflate as
    /// <paramref name="options"/> ask, or null when disabled. It always carries
    /// client_max_window_bits, telling the server it may limit our window (RFC 7692 §7.1.2.2),
    /// since we can compress with any window.
    /// </summary>
    public static string? CreateOffer(PerMessageDeflateOptions options)
    {
        if (!options.Enabled) return null;
        options.Validate();
        var sb = new StringBuilder(ExtensionName);
        if (options.ServerNoContextTakeover) sb.Append("; ").Append(ServerNoContextTakeover);
        if (options.ClientNoContextTakeover) sb.Append("; ").Append(ClientNoContextTakeover);
        if (options.ServerMaxWindowBits < PerMessageDeflateParameters.MaxWindowBits)
            sb.Append("; ").Append(ServerMaxWindowBits).Append('=').Append(options.ServerMaxWindowBits);
        sb.Append("; ").Append(ClientMaxWindowBits);
        if (options.ClientMaxWindowBits < PerMessageDeflateParameters.MaxWindowBits)
            sb.Append('=').Append(options.ClientMaxWindowBits);
        return sb.ToString();
    }

    /// <summary>
    /// Client side: judges the server's Sec-WebSocket-Extensions against the offer made from
    /// <paramref name="offered"/> (RFC 7692 §7.1: a response the offer did not allow fails the
    /// connection). Returns true with <paramref name="agreed"/> null when the server did not accept
    /// permessage-deflate; false with <paramref name="error"/> when the response is unacceptable.
    /// Elements naming other extensions are left to the caller.
    /// </summary>
    public static bool TryAcceptResponse(string? responseHeaderValue, PerMessageDeflateOptions offered,
        out PerMessageDeflateParameters? agreed, out string? error)
    {
        agreed = null;
        error = null;
        if (string.IsNullOrWhiteSpace(responseHeaderValue)) return true;
        ExtensionElement? accepted = null;
        foreach (var element in ExtensionHeader.Parse(responseHeaderValue))
        {
            if (!element.IsWellFormed)
            {
                error = $"Sec-WebSocket-Extensions is malformed: {element.SyntaxError}";
                return false;
            }
            if (!IsPerMessageDeflate(element.Name)) continue;
            // RFC 7692 §5: we sent one offer, so the server can accept it once.
            if (accepted is not null)
            {
                error = "server accepted permessage-deflate more than once";
                return false;
            }
            accepted = element;
        }
        if (accepted is null) return true;
        if (!offered.Enabled)
        {
            error = "server accepted permessage-deflate, which was not offered";
            return false;
        }

        bool serverNoContext = false, clientNoContext = false;
        int? serverBits = null, clientBits = null;
        foreach (var (name, value) in accepted.Parameters)
        {
            if (Is(name, ServerNoContextTakeover) || Is(name, ClientNoContextTakeover))
            {
                ref bool flag = ref Is(name, ServerNoContextTakeover) ? ref serverNoContext : ref clientNoContext;
                if (flag) return Fail(out error, $"{name} appears twice");
                if (value is not null) return Fail(out error, $"{name} must not have a value");
                flag = true;
            }
            else if (Is(name, ServerMaxWindowBits) || Is(name, ClientMaxWindowBits))
            {
                bool server = Is(name, ServerMaxWindowBits);
                if ((server ? serverBits : clientBits) is not null) return Fail(out error, $"{name} appears twice");
                // RFC 7692 §7.1.2: in a response both window parameters carry a value.
                if (!TryParseWindowBits(value, out var bits)) return Fail(out error, $"{name} must be an integer from 8 to 15, not '{value}'");
                if (server) serverBits = bits;
                else clientBits = bits;
            }
            else return Fail(out error, $"unknown permessage-deflate parameter '{name}'");
        }

        // RFC 7692 §7.1.1.1: a server accepting our server_no_context_takeover says so.
        if (offered.ServerNoContextTakeover && !serverNoContext)
            return Fail(out error, "server did not accept server_no_context_takeover, which was offered");
        // RFC 7692 §7.1.2.1: a server accepting our server_max_window_bits answers with the same or a smaller value.
        if (offered.ServerMaxWindowBits < PerMessageDeflateParameters.MaxWindowBits)
        {
            if (serverBits is null)
                return Fail(out error, $"server did not accept server_max_window_bits={offered.ServerMaxWindowBits}, which was offered");
            if (serverBits > offered.ServerMaxWindowBits)
                return Fail(out error, $"server_max_window_bits={serverBits} exceeds the {offered.ServerMaxWindowBits} offered");
        }
        // RFC 7692 §7.1.2.2: the server may not raise the client's window above what the offer said.
        if (clientBits > offered.ClientMaxWindowBits)
            return Fail(out error, $"client_max_window_bits={clientBits} exceeds the {offered.ClientMaxWindowBits} offered");

        agreed = new(
            serverNoContext,
            clientNoContext || offered.ClientNoContextTakeover,
            serverBits ?? PerMessageDeflateParameters.MaxWindowBits,
            clientBits ?? offered.ClientMaxWindowBits);
        return true;
    }

    private static bool Fail(out string error, string message)
    {
        error = "permessage-deflate response: " + message;
        return false;
    }

    private static bool IsPerMessageDeflate(string name) => string.Equals(name, ExtensionName, StringComparison.OrdinalIgnoreCase);

    private static bool Is(string name, string parameter) => string.Equals(name, parameter, StringComparison.OrdinalIgnoreCase);

    /// <summary>RFC 7692 §7.1.2: a decimal integer from 8 to 15 without leading zeros.</summary>
    private static bool TryParseWindowBits(string? value, out int bits)
    {
        bits = 0;
        if (value is null || value.Length is 0 or > 2 || value[0] == '0') return false;
        foreach (var c in value)
        {
            if (c is < '0' or > '9') return false;
            bits = bits * 10 + (c - '0');
        }
        return bits is >= PerMessageDeflateParameters.MinWindowBits and <= PerMessageDeflateParameters.MaxWindowBits;
    }
}
