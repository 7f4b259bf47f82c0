using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class HttpResponseHeadTests
{
    private const string Sample = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    private static WebSocketHandshakeException AssertMalformed(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var ex = Assert.Throws<WebSocketHandshakeException>(() => HttpResponseHead.TryParse(bytes, out _, out _));
        Assert.Equal(HandshakeCheck.MalformedResponse, ex.Check);
        return ex;
    }

    [Fact]
    public void Parses_status_reason_and_headers()
    {
        var bytes = Encoding.ASCII.GetBytes(Sample + "\x81\x05hello");
        Assert.True(HttpResponseHead.TryParse(bytes, out var head, out int consumed));
        Assert.Equal(Sample.Length, consumed);
        Assert.Equal(101, head!.StatusCode);
        Assert.Equal("Switching Protocols", head.ReasonPhrase);
        Assert.Equal("websocket", head.Headers["upgrade"]);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head.Headers["SEC-WEBSOCKET-ACCEPT"]);
    }

    [Fact]
    public void Needs_more_data_at_every_split_point_then_parses()
    {
        var bytes = Encoding.ASCII.GetBytes(Sample);
        for (int n = 0; n < bytes.Length; n++)
            Assert.False(HttpResponseHead.TryParse(bytes.AsSpan(0, n), out _, out _), $"prefix {n}");
        Assert.True(HttpResponseHead.TryParse(bytes, out var head, out int consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(3, head!.Headers.Count);
    }

    [Fact]
    public void Joins_repeated_headers_with_commas()
    {
        Assert.True(HttpResponseHead.TryParse(Encoding.ASCII.GetBytes("HTTP/1.1 101 OK\r\nConnection: keep-alive\r\nconnection: Upgrade\r\n\r\n"), out var head, out _));
        Assert.Equal("keep-alive, Upgrade", head!.Headers["Connection"]);
    }

    [Fact]
    public void Trims_optional_whitespace_around_values()
    {
        Assert.True(HttpResponseHead.TryParse(Encoding.ASCII.GetBytes("HTTP/1.1 101 OK\r\nUpgrade: \t websocket \t\r\nX-Empty:\r\n\r\n"), out var head, out _));
        Assert.Equal("websocket", head!.Headers["Upgrade"]);
        Assert.Equal("", head.Headers["X-Empty"]);
    }

    [Theory]
    [InlineData("HTTP/1.1 101\r\n\r\n", "")]
    [InlineData("HTTP/1.1 101 \r\n\r\n", "")]
    [InlineData("HTTP/1.0 404 Not Found\r\n\r\n", "Not Found")]
    public void Accepts_status_line_without_or_with_reason(string text, string reason)
    {
        Assert.True(HttpResponseHead.TryParse(Encoding.ASCII.GetBytes(text), out var head, out _));
        Assert.Equal(reason, head!.ReasonPhrase);
    }

    [Fact]
    public void Rejects_head_over_the_size_limit_without_terminator()
    {
        var text = "HTTP/1.1 101 OK\r\nX-Big: " + new string('a', HttpResponseHead.MaxLength);
        var ex = AssertMalformed(text);
        Assert.Contains("exceeds", ex.Message);
    }

    [Fact]
    public void Rejects_complete_head_over_the_size_limit()
    {
        AssertMalformed("HTTP/1.1 101 OK\r\nX-Big: " + new string('a', HttpResponseHead.MaxLength) + "\r\n\r\n");
    }

    [Fact]
    public void Waits_for_more_at_exactly_the_size_limit_without_terminator()
    {
        var bytes = Encoding.ASCII.GetBytes("HTTP/1.1 101 OK\r\nX: " + new string('a', HttpResponseHead.MaxLength));
        Assert.False(HttpResponseHead.TryParse(bytes.AsSpan(0, HttpResponseHead.MaxLength), out _, out _));
    }

    [Fact]
    public void Accepts_head_of_exactly_the_size_limit()
    {
        var prefix = "HTTP/1.1 101 OK\r\nX: ";
        var text = prefix + new string('a', HttpResponseHead.MaxLength - prefix.Length - 4) + "\r\n\r\n";
        Assert.Equal(HttpResponseHead.MaxLength, text.Length);
        Assert.True(HttpResponseHead.TryParse(Encoding.ASCII.GetBytes(text), out _, out int consumed));
        Assert.Equal(HttpResponseHead.MaxLength, consumed);
    }

    [Theory]
    [InlineData("\r\n\r\n")]
    [InlineData("HTTP/1.1\r\n\r\n")]
    [InlineData("HTTP/1.1 10\r\n\r\n")]
    [InlineData("HTTP/1.1 abc OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 -01 Neg\r\n\r\n")]
    [InlineData("HTTP/1.1 +01 Pos\r\n\r\n")]
    [InlineData("HTTP/1.1 1011 Long\r\n\r\n")]
    [InlineData("HTTP/1.1  101 Extra space\r\n\r\n")]
    [InlineData("HTTP/2 101 Switching\r\n\r\n")]
    [InlineData("http/1.1 101 Lower\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1_101 OK\r\n\r\n")]
    public void Rejects_bad_status_line(string text) => AssertMalformed(text);

    [Theory]
    [InlineData("HTTP/1.1 101 OK\r\nNoColon\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\n: empty name\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\n folded: x\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\0b\r\n\r\n")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\x7F\r\n\r\n")]
    [InlineData("HTTP/1.1 101 O\x01K\r\n\r\n")]
    public void Rejects_bad_header_lines(string text) => AssertMalformed(text);

    [Theory]
    [InlineData("HTTP/1.x 101 Switching Protocols\r\n\r\n")]
    [InlineData("HTTP/1.  101 Switching Protocols\r\n\r\n")]
    public void Rejects_http_version_without_a_minor_digit(string text) => AssertMalformed(text);

    [Fact]
    public void Rejects_bare_cr_inside_a_header_line()
    {
        // RFC 9112 §2.2: a bare CR must be treated as invalid (or replaced by SP), never kept in a value.
        var bytes = Encoding.ASCII.GetBytes("HTTP/1.1 101 OK\r\nUpgrade: websocket\rX-Injected: 1\r\n\r\n");
        try
        {
            Assert.True(HttpResponseHead.TryParse(bytes, out var head, out _));
            Assert.DoesNotContain('\r', head!.Headers["Upgrade"]);
        }
        catch (WebSocketHandshakeException ex)
        {
            Assert.Equal(HandshakeCheck.MalformedResponse, ex.Check);
        }
    }
}
