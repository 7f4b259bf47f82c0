using System.Text;

namespace Duplex.Protocol;

/// <summary>What <see cref="HttpRequestHead.TryParse"/> made of the bytes it was given.</summary>
public enum RequestHeadStatus
{
    /// <summary>A complete, plainly well-formed head was parsed.</summary>
    Parsed,

    /// <summary>No end of head yet: more bytes are needed.</summary>
    Incomplete,

    /// <summary>
    /// The bytes are not a head this strict parser accepts (too long, odd framing, obs-fold, controls,
    /// not origin-form). Not a verdict on the request: hand it to a full HTTP server.
    /// </summary>
    Unsupported,
}

/// <summary>
/// The request line and headers of an HTTP/1.1 request, parsed sans-I/O and strictly: CRLF line ends
/// only, no folded lines, no whitespace before a colon, visible ASCII only, an origin-form target.
/// Meant for the WebSocket opening handshake (RFC 6455 §4.1), whose request is a bodiless GET; anything
/// it does not accept is <see cref="RequestHeadStatus.Unsupported"/>, never guessed at.
/// </summary>
public sealed class HttpRequestHead
{
    /// <summary>Most bytes a head may take.</summary>
    public const int MaxLength = 8 * 1024;

    /// <summary>Most header lines.</summary>
    public const int MaxHeaders = 64;

    private HttpRequestHead(string method, string path, string query, string protocol, List<KeyValuePair<string, string>> headers)
    {
        Method = method;
        Path = path;
        Query = query;
        Protocol = protocol;
        _headers = headers;
    }

    // The list itself, so lookups enumerate without allocating an enumerator each (they run ~10 times a handshake).
    private readonly List<KeyValuePair<string, string>> _headers;

    /// <summary>The request method as sent, e.g. <c>GET</c> (case-sensitive, RFC 9110 §9.1).</summary>
    public string Method { get; }

    /// <summary>The target's path, as sent (no percent-decoding).</summary>
    public string Path { get; }

    /// <summary>The target's query including '?', or "".</summary>
    public string Query { get; }

    /// <summary>"HTTP/1.1" (or another HTTP/1.x).</summary>
    public string Protocol { get; }

    /// <summary>Every header line in order, names as sent, values trimmed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>The values of every line named <paramref name="name"/> (case-insensitive), in order.</summary>
    public string?[] Values(string name)
    {
        int count = 0;
        foreach (var (key, _) in _headers)
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) count++;
        if (count == 0) return [];
        var values = new string?[count];
        int i = 0;
        foreach (var (key, value) in _headers)
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase)) values[i++] = value;
        return values;
    }

    /// <summary>The single value of <paramref name="name"/>, or null when absent; several lines are joined with ", ".</summary>
    public string? Value(string name)
    {
        var values = Values(name);
        return values.Length switch { 0 => null, 1 => values[0], _ => string.Join(", ", values) };
    }

    /// <summary>The opening-handshake view of this request, for <see cref="ServerHandshake.Validate"/>.</summary>
    public HandshakeRequest ToHandshakeRequest() => new()
    {
        Method = Method,
        Protocol = Protocol,
        Host = Values("Host"),
        Upgrade = Values("Upgrade"),
        Connection = Values("Connection"),
        Key = Values("Sec-WebSocket-Key"),
        Version = Values("Sec-WebSocket-Version"),
        Protocols = Values("Sec-WebSocket-Protocol"),
        Origin = Value("Origin"),
    };

    /// <summary>
    /// Parses the head at the start of <paramref name="buffer"/>. On <see cref="RequestHeadStatus.Parsed"/>,
    /// <paramref name="consumed"/> is its length including the empty line; bytes after it are not looked at.
    /// </summary>
    public static RequestHeadStatus TryParse(ReadOnlySpan<byte> buffer, out HttpRequestHead? head, out int consumed)
    {
        head = null;
        consumed = 0;
        int end = buffer[..Math.Min(buffer.Length, MaxLength)].IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length >= MaxLength) return RequestHeadStatus.Unsupported;
            // Refuse early what can never become a head this parser accepts (e.g. HTTP/2's preface).
            return LooksLikeRequestLineStart(buffer) ? RequestHeadStatus.Incomplete : RequestHeadStatus.Unsupported;
        }
        var text = buffer[..end];
        foreach (byte b in text)
        {
            // Visible ASCII, SP, HTAB and the CRLFs between lines; no other controls, no obs-text.
            if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b >= 0x7F) return RequestHeadStatus.Unsupported;
        }

        int lineEnd = text.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? text : text[..lineEnd];
        if (!TryParseRequestLine(requestLine, out var method, out var path, out var query, out var protocol)) return RequestHeadStatus.Unsupported;

        var headers = new List<KeyValuePair<string, string>>(12);
        var rest = lineEnd < 0 ? ReadOnlySpan<byte>.Empty : text[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            int next = rest.IndexOf("\r\n"u8);
            var line = next < 0 ? rest : rest[..next];
            rest = next < 0 ? ReadOnlySpan<byte>.Empty : rest[(next + 2)..];
            if (line.IndexOfAny((byte)'\r', (byte)'\n') >= 0) return RequestHeadStatus.Unsupported; // a bare CR or LF
            if (line.IsEmpty || line[0] is (byte)' ' or (byte)'\t') return RequestHeadStatus.Unsupported; // obs-fold
            int colon = line.IndexOf((byte)':');
            if (colon <= 0) return RequestHeadStatus.Unsupported;
            var name = line[..colon];
            foreach (byte b in name)
                if (!IsTokenChar(b)) return RequestHeadStatus.Unsupported;
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (headers.Count == MaxHeaders) return RequestHeadStatus.Unsupported;
            headers.Add(new(AsString(name), AsString(value)));
        }
        head = new HttpRequestHead(method, path, query, protocol, headers);
        consumed = end + 4;
        return RequestHeadStatus.Parsed;
    }

    private static bool LooksLikeRequestLineStart(ReadOnlySpan<byte> buffer)
    {
        foreach (byte b in buffer)
        {
            if (b == ' ') return true;              // the method is complete
            if (!IsTokenChar(b)) return false;      // a method is a token
        }
        return buffer.Length < 16;
    }

    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), origin-form targets only.
    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string method, out string path, out string query, out string protocol)
    {
        method = path = query = protocol = "";
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0) return false;
        var methodBytes = line[..sp1];
        foreach (byte b in methodBytes)
            if (!IsTokenChar(b)) return false;
        var afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 <= 0) return false;
        var target = afterMethod[..sp2];
        var version = afterMethod[(sp2 + 1)..];
        if (target[0] != '/' || target.IndexOfAny((byte)' ', (byte)'\t', (byte)'#') >= 0) return false;
        if (version.Length != 8 || !version.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)version[7])) return false;
        method = AsString(methodBytes);
        int q = target.IndexOf((byte)'?');
        path = Encoding.ASCII.GetString(q < 0 ? target : target[..q]);
        query = q < 0 ? "" : Encoding.ASCII.GetString(target[q..]);
        protocol = AsString(version);
        return true;
    }

    // What nearly every upgrade request says, as shared strings: a handshake then allocates only for
    // what varies (host, path, key, agent), not for each header's name.
    private static readonly string[] s_common =
    [
        "GET", "HTTP/1.1", "Host", "Upgrade", "Connection", "websocket", "13", "Sec-WebSocket-Key",
        "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Origin", "User-Agent",
        "Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Pragma", "no-cache", "Cookie",
        "Authorization", "keep-alive, Upgrade", "permessage-deflate; client_max_window_bits",
    ];

    /// <summary>The ASCII text of <paramref name="bytes"/>: a shared string when it is a common one (ordinal match).</summary>
    private static string AsString(ReadOnlySpan<byte> bytes)
    {
        foreach (var common in s_common)
        {
            if (common.Length == bytes.Length && System.Text.Ascii.Equals(bytes, common)) return common;
        }
        return Encoding.ASCII.GetString(bytes);
    }

    // tchar (RFC 9110 §5.6.2)
    private static bool IsTokenChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
        || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*' or (byte)'+'
            or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
}
