using System.Net.Sockets;
using System.Text;

namespace Duplex.Conformance.Wire;

/// <summary>
/// The start line and header fields of an HTTP/1.1 upgrade request or response (RFC 6455 §4),
/// plus whatever octets followed the blank line (frames the peer sent right after its head).
/// </summary>
internal sealed class HttpHead
{
    private const int MaxHeadLength = 16 * 1024;

    public required string StartLine { get; init; }
    public required Dictionary<string, string> Headers { get; init; }
    public required string Raw { get; init; }
    public required byte[] Leftover { get; init; }

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>True when the comma-separated header <paramref name="name"/> contains <paramref name="token"/>.</summary>
    public bool HeaderHasToken(string name, string token) =>
        Header(name)?.Split(',').Any(t => t.Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) == true;

    /// <summary>Reads up to the blank line that ends an HTTP head. Returns null if the peer closed first.</summary>
    public static async Task<HttpHead?> ReadAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxHeadLength];
        int filled = 0;
        while (true)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return null;
            }
            filled += read;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Parse(buffer.AsSpan(0, end), buffer.AsSpan(end + 4, filled - end - 4).ToArray());
            }
            if (filled == buffer.Length)
            {
                throw new InvalidDataException($"HTTP head longer than {MaxHeadLength} octets.");
            }
        }
    }

    private static HttpHead Parse(ReadOnlySpan<byte> head, byte[] leftover)
    {
        // RFC 7230 §3.2.4: field values are octets; Latin-1 keeps every one of them.
        string raw = Encoding.Latin1.GetString(head);
        var lines = raw.Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            // Repeated fields are equivalent to one comma-joined field (RFC 7230 §3.2.2).
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }
        return new HttpHead { StartLine = lines[0], Headers = headers, Raw = raw, Leftover = leftover };
    }
}
