using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public class ServerHandshakeTests
{
    private const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";

    private static HandshakeRequest Request(
        string method = "GET", string protocol = "HTTP/1.1",
        string?[]? host = null, string?[]? upgrade = null, string?[]? connection = null,
        string?[]? key = null, string?[]? version = null) => new()
    {
        Method = method,
        Protocol = protocol,
        Host = host ?? ["server.example.com"],
        Upgrade = upgrade ?? ["websocket"],
        Connection = connection ?? ["Upgrade"],
        Key = key ?? [SampleKey],
        Version = version ?? ["13"],
    };

    private static void AssertRejected(HandshakeRequest request, int status)
    {
        var rejection = ServerHandshake.Validate(request);
        Assert.NotNull(rejection);
        Assert.Equal(status, rejection!.Value.StatusCode);
        Assert.Equal(status == 426, rejection.Value.RequiresVersionHeader);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Value.Reason));
    }

    [Fact]
    // RFC 6455 §1.3 (checked independently: base64(SHA-1(key + GUID))).
    public void Computes_the_rfc_6455_sample_accept() =>
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", HandshakeKeys.ComputeAccept(SampleKey));

    [Fact]
    public void Creates_fresh_valid_keys()
    {
        var keys = Enumerable.Range(0, 100).Select(_ => HandshakeKeys.CreateKey()).ToList();
        Assert.All(keys, k => Assert.True(HandshakeKeys.IsValidKey(k)));
        Assert.Equal(100, keys.Distinct().Count());
    }

    [Fact]
    public void Accepts_the_rfc_6455_sample_request() => Assert.Null(ServerHandshake.Validate(Request()));

    [Theory]
    [InlineData("POST")]
    [InlineData("get")]
    [InlineData("HEAD")]
    [InlineData("CONNECT")]
    public void Rejects_non_get_method_with_400(string method) => AssertRejected(Request(method: method), 400);

    [Theory]
    [InlineData("HTTP/1.0")]
    [InlineData("HTTP/0.9")]
    [InlineData("http/1.1")]
    [InlineData("")]
    [InlineData("HTTP/")]
    [InlineData("SPDY/3")]
    public void Rejects_http_before_1_1_with_400(string protocol) => AssertRejected(Request(protocol: protocol), 400);

    [Theory]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/2")]
    [InlineData("HTTP/2.0")]
    [InlineData("HTTP/3")]
    public void Accepts_http_1_1_and_later(string protocol) => Assert.Null(ServerHandshake.Validate(Request(protocol: protocol)));

    [Fact]
    public void Rejects_missing_host_with_400() => AssertRejected(Request(host: []), 400);

    [Fact]
    public void Rejects_empty_host_with_400() => AssertRejected(Request(host: [" "]), 400);

    [Fact]
    public void Rejects_repeated_host_with_400() => AssertRejected(Request(host: ["a.example", "b.example"]), 400);

    [Theory]
    [InlineData("websocket")]
    [InlineData("WebSocket")]
    [InlineData("WEBSOCKET")]
    [InlineData("h2c, websocket")]
    public void Accepts_upgrade_websocket_in_any_case(string upgrade) => Assert.Null(ServerHandshake.Validate(Request(upgrade: [upgrade])));

    [Theory]
    [InlineData(null)]
    [InlineData("h2c")]
    [InlineData("websockets")]
    [InlineData("")]
    public void Rejects_missing_or_wrong_upgrade_with_400(string? upgrade) =>
        AssertRejected(Request(upgrade: upgrade is null ? [] : [upgrade]), 400);

    [Theory]
    [InlineData("Upgrade")]
    [InlineData("upgrade")]
    [InlineData("keep-alive, Upgrade")]
    [InlineData("Upgrade,keep-alive")]
    [InlineData("  keep-alive ,  UPGRADE  ")]
    public void Accepts_connection_token_list_containing_upgrade(string connection) =>
        Assert.Null(ServerHandshake.Validate(Request(connection: [connection])));

    [Fact]
    public void Accepts_upgrade_token_in_a_second_connection_header() =>
        Assert.Null(ServerHandshake.Validate(Request(connection: ["keep-alive", "Upgrade"])));

    [Theory]
    [InlineData("keep-alive")]
    [InlineData("Upgrades")]
    [InlineData("close")]
    [InlineData("")]
    public void Rejects_connection_without_upgrade_token_with_400(string connection) => AssertRejected(Request(connection: [connection]), 400);

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ")]       // unpadded
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAA")]       // 24 chars decoding to 18 bytes
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==AA")]
    [InlineData("dGhlIHNhbXBsZSBub25jZ!==")]       // not base64
    [InlineData("dGhlIHNhbXBsZSBub25j")]           // 15 bytes
    public void Rejects_key_not_decoding_to_16_bytes_with_400(string key) => AssertRejected(Request(key: [key]), 400);

    [Fact]
    public void Rejects_missing_key_with_400() => AssertRejected(Request(key: []), 400);

    [Fact]
    public void Rejects_repeated_key_with_400() => AssertRejected(Request(key: [SampleKey, SampleKey]), 400);

    [Fact]
    public void Accepts_key_with_surrounding_whitespace() => Assert.Null(ServerHandshake.Validate(Request(key: [" " + SampleKey + " "])));

    [Theory]
    [InlineData("8")]
    [InlineData("12")]
    [InlineData("14")]
    [InlineData("13, 8")]
    [InlineData("")]
    public void Rejects_version_other_than_13_with_426(string version) => AssertRejected(Request(version: [version]), 426);

    [Fact]
    public void Rejects_missing_version_with_426() => AssertRejected(Request(version: []), 426);

    [Fact]
    public void Lists_offered_subprotocols_in_order()
    {
        var request = new HandshakeRequest { Method = "GET", Protocol = "HTTP/1.1", Protocols = ["chat, superchat", " v2.json "] };
        Assert.Equal(["chat", "superchat", "v2.json"], ServerHandshake.OfferedSubprotocols(request));
    }
}
