using System.Text;

namespace Duplex.Protocol;

/// <summary>The status line and headers of an HTTP/1.1 response, parsed sans-I/O.</summary>
public sealed class HttpResponseHead
{
    /// <summary>The three-digit status code, e.g. 101.</summary>
    public int StatusCode { get; private init; }
    /// <summary>The reason phrase after the code, as sent; may be empty.</summary>
    public string ReasonPhrase { get; private init; } = "";
    /// <summary>The header fields by name, case-insensitive; a repeated header's values are joined with ", " in order.</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Most bytes a response head may take before it is judged malformed.</summary>
    public const int MaxLength = 16 * 1024;

    /// <summary>
    /// Tries to parse a complete head (up to and including the empty line). Returns false when more
    /// bytes are needed; throws <see cref="WebSocketHandshakeException"/> when the bytes are not a
    /// valid response head. <paramref name="consumed"/> is the head's length.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out HttpResponseHead? head, out int consumed)
    {
        head = null;
        consumed = 0;
        int end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length > MaxLength) throw Malformed($"response head exceeds {MaxLength} bytes");
            return false;
        }
        if (end + 4 > MaxLength) throw Malformed($"response head exceeds {MaxLength} bytes");
        consumed = end + 4;
        var text = buffer.Slice(0, end);
        foreach (byte b in text)
        {
            // Header bytes are visible ASCII, obs-text, SP, HTAB, CR, LF; NUL and other controls are not.
            if (b < 0x20 && b != '\t' && b != '\r' && b != '\n' || b == 0x7F) throw Malformed("control character in response head");
        }
        var lines = Encoding.Latin1.GetString(text).Split("\r\n");
        // RFC 9112 §2.2: a bare CR (or LF) inside a line is not a line end; refuse it rather than
        // let it into a header value.
        foreach (var line in lines)
            if (line.AsSpan().ContainsAny('\r', '\n')) throw Malformed("bare CR or LF in response head");
        var status = lines[0];
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]
        if (status.Length < 12 || !status.StartsWith("HTTP/1.", StringComparison.Ordinal) || !char.IsAsciiDigit(status[7]) || status[8] != ' ')
            throw Malformed($"bad status line '{Truncate(status)}'");
        if (!int.TryParse(status.AsSpan(9, 3), System.Globalization.NumberStyles.None, null, out int code) || code < 100)
            throw Malformed($"bad status code in '{Truncate(status)}'");
        if (status.Length > 12 && status[12] != ' ')
            throw Malformed($"bad status line '{Truncate(status)}'");
        var result = new HttpResponseHead { StatusCode = code, ReasonPhrase = status.Length > 13 ? status[13..] : "" };
        for (int i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            int colon = line.IndexOf(':');
            if (colon <= 0 || line.AsSpan(0, colon).ContainsAny(' ', '\t'))
                throw Malformed($"bad header line '{Truncate(line)}'");
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            result.Headers[name] = result.Headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }
        head = result;
        return true;
    }

    /// <summary>A head from an answer another stack parsed (HTTP/2): repeated headers joined with ", ".</summary>
    internal static HttpResponseHead From(int statusCode, string? reasonPhrase, IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers)
    {
        var head = new HttpResponseHead { StatusCode = statusCode, ReasonPhrase = reasonPhrase ?? "" };
        foreach (var (name, values) in headers) head.Headers[name] = string.Join(", ", values);
        return head;
    }

    private static WebSocketHandshakeException Malformed(string why) => new(HandshakeCheck.MalformedResponse, "malformed handshake response: " + why);

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
