using System.Text;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class ClientHandshakeTests
{
    private const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
    private const string SampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    private static HttpResponseHead Parse(string head)
    {
        Assert.True(HttpResponseHead.TryParse(Encoding.Latin1.GetBytes(head), out var parsed, out int consumed));
        Assert.Equal(head.Length, consumed);
        return parsed!;
    }

    private static string Response(string status = "HTTP/1.1 101 Switching Protocols", params string[] headers)
    {
        var sb = new StringBuilder(status).Append("\r\n");
        foreach (var h in headers) sb.Append(h).Append("\r\n");
        return sb.Append("\r\n").ToString();
    }

    private static readonly string[] Good = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + SampleAccept];

    private static ClientHandshake Handshake(string[]? subprotocols = null, string[]? extensions = null) =>
        new(SampleKey, subprotocols ?? [], extensions ?? []);

    private static void AssertFails(ClientHandshake handshake, string response, HandshakeCheck check)
    {
        var ex = Assert.Throws<WebSocketHandshakeException>(() => handshake.Validate(Parse(response)));
        Assert.Equal(check, ex.Check);
    }

    [Fact]
    public void Accepts_the_rfc_6455_sample_response()
    {
        var (subprotocol, extensions) = Handshake().Validate(Parse(Response(headers: Good)));
        Assert.Null(subprotocol);
        Assert.Null(extensions);
    }

    [Fact]
    public void Accepts_header_names_and_values_in_any_case()
    {
        var response = Response("HTTP/1.1 101 Switching Protocols", "UPGRADE: WebSocket", "connection: keep-alive, upgrade", "sec-websocket-accept: " + SampleAccept);
        Handshake().Validate(Parse(response));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.1 400 Bad Request", 400)]
    [InlineData("HTTP/1.1 401 Unauthorized", 401)]
    [InlineData("HTTP/1.1 426 Upgrade Required", 426)]
    [InlineData("HTTP/1.1 302 Found", 302)]
    public void Rejects_status_other_than_101(string statusLine, int code)
    {
        var ex = Assert.Throws<WebSocketHandshakeException>(() => Handshake().Validate(Parse(Response(statusLine, Good))));
        Assert.Equal(HandshakeCheck.Status, ex.Check);
        Assert.Equal(code, ex.StatusCode);
    }

    [Fact]
    public void Rejects_missing_upgrade() =>
        AssertFails(Handshake(), Response(headers: ["Connection: Upgrade", "Sec-WebSocket-Accept: " + SampleAccept]), HandshakeCheck.Upgrade);

    [Fact]
    public void Rejects_wrong_upgrade() =>
        AssertFails(Handshake(), Response(headers: ["Upgrade: h2c", "Connection: Upgrade", "Sec-WebSocket-Accept: " + SampleAccept]), HandshakeCheck.Upgrade);

    [Fact]
    public void Rejects_missing_connection() =>
        AssertFails(Handshake(), Response(headers: ["Upgrade: websocket", "Sec-WebSocket-Accept: " + SampleAccept]), HandshakeCheck.Connection);

    [Fact]
    public void Rejects_connection_without_upgrade() =>
        AssertFails(Handshake(), Response(headers: ["Upgrade: websocket", "Connection: keep-alive", "Sec-WebSocket-Accept: " + SampleAccept]), HandshakeCheck.Connection);

    [Fact]
    public void Rejects_missing_accept() =>
        AssertFails(Handshake(), Response(headers: ["Upgrade: websocket", "Connection: Upgrade"]), HandshakeCheck.Accept);

    [Theory]
    [InlineData("s3pPLMBiTxaQ9kYGzzhZRbK+xOp=")]
    [InlineData("S3PPLMBITXAQ9KYGZZHZRBK+XOO=")]   // base64 is case-sensitive
    [InlineData("")]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==")]      // the key echoed back
    public void Rejects_wrong_accept(string accept) =>
        AssertFails(Handshake(), Response(headers: ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: " + accept]), HandshakeCheck.Accept);

    [Fact]
    public void Accepts_offered_subprotocol()
    {
        var (subprotocol, _) = Handshake(subprotocols: ["chat", "superchat"]).Validate(Parse(Response(headers: [.. Good, "Sec-WebSocket-Protocol: superchat"])));
        Assert.Equal("superchat", subprotocol);
    }

    [Fact]
    public void Rejects_unoffered_subprotocol() =>
        AssertFails(Handshake(subprotocols: ["chat"]), Response(headers: [.. Good, "Sec-WebSocket-Protocol: superchat"]), HandshakeCheck.Subprotocol);

    [Fact]
    public void Rejects_subprotocol_when_none_was_offered() =>
        AssertFails(Handshake(), Response(headers: [.. Good, "Sec-WebSocket-Protocol: chat"]), HandshakeCheck.Subprotocol);

    [Fact]
    public void Rejects_more_than_one_subprotocol() =>
        AssertFails(Handshake(subprotocols: ["chat", "superchat"]), Response(headers: [.. Good, "Sec-WebSocket-Protocol: chat, superchat"]), HandshakeCheck.Subprotocol);

    [Fact]
    public void Rejects_subprotocol_differing_in_case() =>
        AssertFails(Handshake(subprotocols: ["chat"]), Response(headers: [.. Good, "Sec-WebSocket-Protocol: Chat"]), HandshakeCheck.Subprotocol);

    [Fact]
    public void Accepts_offered_extension_with_parameters()
    {
        var (_, extensions) = Handshake(extensions: ["permessage-deflate"])
            .Validate(Parse(Response(headers: [.. Good, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"])));
        Assert.Equal("permessage-deflate; server_no_context_takeover", extensions);
    }

    [Fact]
    public void Rejects_unoffered_extension() =>
        AssertFails(Handshake(extensions: ["permessage-deflate"]), Response(headers: [.. Good, "Sec-WebSocket-Extensions: x-webkit-deflate-frame"]), HandshakeCheck.Extension);

    [Fact]
    public void Rejects_extension_when_none_was_offered() =>
        AssertFails(Handshake(), Response(headers: [.. Good, "Sec-WebSocket-Extensions: permessage-deflate"]), HandshakeCheck.Extension);

    [Fact]
    public void Builds_a_request_with_the_required_headers()
    {
        var handshake = new ClientHandshake(SampleKey, ["chat", "superchat"], []);
        var request = Encoding.UTF8.GetString(handshake.BuildRequest(new Uri("ws://server.example.com:8080/chat?room=1"), [new("Origin", "http://example.com")], "permessage-deflate"));
        Assert.StartsWith("GET /chat?room=1 HTTP/1.1\r\n", request);
        Assert.EndsWith("\r\n\r\n", request);
        var lines = request.Split("\r\n");
        Assert.Contains("Host: server.example.com:8080", lines);
        Assert.Contains("Upgrade: websocket", lines);
        Assert.Contains("Connection: Upgrade", lines);
        Assert.Contains("Sec-WebSocket-Key: " + SampleKey, lines);
        Assert.Contains("Sec-WebSocket-Version: 13", lines);
        Assert.Contains("Sec-WebSocket-Protocol: chat, superchat", lines);
        Assert.Contains("Sec-WebSocket-Extensions: permessage-deflate", lines);
        Assert.Contains("Origin: http://example.com", lines);
    }

    [Theory]
    [InlineData("ws://example.com/", "Host: example.com")]
    [InlineData("wss://example.com/", "Host: example.com")]
    [InlineData("ws://example.com:443/", "Host: example.com:443")]
    [InlineData("ws://[::1]:9000/", "Host: [::1]:9000")]
    [InlineData("ws://example.com", "Host: example.com")]
    public void Omits_the_default_port_from_host(string uri, string hostLine)
    {
        var request = Encoding.UTF8.GetString(new ClientHandshake(SampleKey, [], []).BuildRequest(new Uri(uri), [], null));
        Assert.Contains(hostLine, request.Split("\r\n"));
        Assert.StartsWith("GET / HTTP/1.1", request);
    }

    [Theory]
    [InlineData("X-Evil", "a\r\nInjected: 1")]
    [InlineData("X-Evil\r\nInjected", "1")]
    [InlineData("X:Evil", "1")]
    public void Refuses_header_that_would_break_the_request(string name, string value) =>
        Assert.Throws<ArgumentException>(() => new ClientHandshake(SampleKey, [], []).BuildRequest(new Uri("ws://a/"), [new(name, value)], null));

    [Fact]
    public void Client_request_passes_server_validation()
    {
        var key = HandshakeKeys.CreateKey();
        var text = Encoding.UTF8.GetString(new ClientHandshake(key, [], []).BuildRequest(new Uri("ws://localhost:5000/ws"), [], null));
        var lines = text.Split("\r\n").Skip(1).Where(l => l.Length > 0).Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1]);
        var request = new HandshakeRequest
        {
            Method = text.Split(' ')[0],
            Protocol = text.Split("\r\n")[0].Split(' ')[2],
            Host = [lines["Host"]],
            Upgrade = [lines["Upgrade"]],
            Connection = [lines["Connection"]],
            Key = [lines["Sec-WebSocket-Key"]],
            Version = [lines["Sec-WebSocket-Version"]],
        };
        Assert.Null(ServerHandshake.Validate(request));
    }
}
