using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class HttpRequestHeadTests
{
    private const string Upgrade =
        "GET /chat?room=a%20b HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n";

    private static RequestHeadStatus Parse(string text, out HttpRequestHead? head, out int consumed) =>
        HttpRequestHead.TryParse(Encoding.Latin1.GetBytes(text), out head, out consumed);

    [Fact]
    public void Parses_the_request_line_and_headers_and_stops_at_the_empty_line()
    {
        Assert.Equal(RequestHeadStatus.Parsed, Parse(Upgrade + "\x81\x85frame", out var head, out int consumed));
        Assert.Equal(Upgrade.Length, consumed);
        Assert.Equal("GET", head!.Method);
        Assert.Equal("/chat", head.Path);
        Assert.Equal("?room=a%20b", head.Query);
        Assert.Equal("HTTP/1.1", head.Protocol);
        Assert.Equal(new string?[] { "a, b", "c" }, head.Values("sec-websocket-protocol").AsEnumerable());
        Assert.Equal("a, b, c", head.Value("Sec-WebSocket-Protocol"));
        Assert.Null(head.Value("Origin"));

        var handshake = head.ToHandshakeRequest();
        Assert.Null(ServerHandshake.Validate(handshake));
        Assert.Equal(["a", "b", "c"], ServerHandshake.OfferedSubprotocols(handshake));
    }

    [Fact]
    public void Every_prefix_of_a_head_asks_for_more()
    {
        for (int i = 0; i < Upgrade.Length; i++)
            Assert.Equal(RequestHeadStatus.Incomplete, Parse(Upgrade[..i], out _, out _));
    }

    [Theory]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]                       // HTTP/2 prior knowledge
    [InlineData("GET http://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n")]    // absolute-form target
    [InlineData("GET / HTTP/1.1\nHost: a\n\n")]                            // bare LF line ends
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n")]           // obs-fold
    [InlineData("GET / HTTP/1.1\r\nHost : a\r\n\r\n")]                     // space before the colon
    [InlineData("GET / HTTP/1.1\r\nHo\u0001st: a\r\n\r\n")]                // a control character
    [InlineData("GET / HTTP/1.1\r\nHost: caf\u00e9\r\n\r\n")]              // obs-text
    [InlineData("GET  / HTTP/1.1\r\nHost: a\r\n\r\n")]                     // two spaces
    [InlineData("GET / HTTP/2\r\nHost: a\r\n\r\n")]                        // not HTTP/1.x
    [InlineData("GET / HTTP/1.1\r\nHost\r\n\r\n")]                         // no colon
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001")]                  // a TLS ClientHello
    public void What_it_does_not_accept_is_never_parsed(string text)
    {
        // Unsupported, or (bare LFs: no CRLFCRLF yet) incomplete: either way left to the full HTTP server.
        Assert.NotEqual(RequestHeadStatus.Parsed, Parse(text, out var head, out _));
        Assert.Null(head);
    }

    [Fact]
    public void Heads_past_the_limit_are_unsupported()
    {
        var big = "GET / HTTP/1.1\r\nX-Filler: " + new string('a', HttpRequestHead.MaxLength) + "\r\n\r\n";
        Assert.Equal(RequestHeadStatus.Unsupported, Parse(big, out _, out _));
        Assert.Equal(RequestHeadStatus.Unsupported, Parse(big[..(HttpRequestHead.MaxLength + 10)], out _, out _));
        var many = "GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, HttpRequestHead.MaxHeaders + 1).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.Equal(RequestHeadStatus.Unsupported, Parse(many, out _, out _));
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(6455);
        var buffer = new byte[300];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(buffer);
            int length = random.Next(buffer.Length);
            // Mostly printable, with CRLFs, so some inputs get deep into the parser.
            for (int j = 0; j < length; j++)
                buffer[j] = (buffer[j] % 7) switch { 0 => (byte)'\r', 1 => (byte)'\n', 2 => (byte)':', _ => (byte)(32 + buffer[j] % 95) };
            if (i % 2 == 0) Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n").CopyTo(buffer, 0);
            var status = HttpRequestHead.TryParse(buffer.AsSpan(0, length), out var head, out int consumed);
            Assert.Equal(status == RequestHeadStatus.Parsed, head is not null);
            Assert.InRange(consumed, 0, length);
        }
    }
}
