using System.Text.Json;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Interop;

/// <summary>tests/peers/py_echo_server.py: python websockets (Debian's 10.4) as the server.</summary>
public sealed class PythonWebSocketsServer : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Python, [InteropPeers.Script("py_echo_server.py")]);
}

public sealed class PythonWebSocketsClientTests
{
    [Fact]
    public async Task Python_hello_client_gets_its_greeting_back_from_the_Duplex_server()
    {
        var python = InteropPeers.Python;
        var script = InteropPeers.Script("hello_client.py");
        await using var server = await EchoRecorder.StartAsync();
        await using var peer = PeerProcess.Start(python, script, server.Server.WebSocketUri("/echo").ToString());
        Assert.Equal("Hello Server!", await peer.ReadLineAsync());
        Assert.True(await peer.WaitForExitAsync() == 0, peer.StandardError);

        var seen = Assert.Single(server.Connections);
        await seen.Ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var (type, data) = Assert.Single(seen.Messages);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("Hello Server!"u8.ToArray(), data);
        // Leaving `async with` closes with 1000 and waits for the answer.
        Assert.Equal(CloseStatus.NormalClosure, seen.CloseStatus);
        Assert.Equal(WebSocketState.Closed, seen.State);
    }
}

public sealed class PythonWebSocketsServerTests(PythonWebSocketsServer server) : IClassFixture<PythonWebSocketsServer>
{
    private Task<WebSocketConnection> ConnectAsync(WebSocketClientOptions? options = null) =>
        WebSocketClient.ConnectAsync(server.Uri("/echo"), options ?? new WebSocketClientOptions { ConnectTimeout = TimeSpan.FromSeconds(10) });

    public static TheoryData<string, bool, int> Messages => ClientExchange.Messages;

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task Websockets_echoes_the_message_byte_exact_with_its_type(string kind, bool binary, int length)
    {
        await using var client = await ConnectAsync();
        var (type, data) = ClientExchange.Build(kind, binary, length);
        await ClientExchange.AssertEchoedAsync(client, type, data);
    }

    [Fact]
    public async Task Fragmented_message_from_websockets_arrives_whole()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("fragments-please");
        Assert.Equal("one two ✓ three", await ClientExchange.NextTextAsync(client));
    }

    [Fact]
    public async Task Ping_to_websockets_completes_when_its_pong_arrives()
    {
        await using var client = await ConnectAsync();
        await client.PingAsync("py"u8.ToArray()).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Subprotocol_and_custom_header_reach_websockets()
    {
        var options = new WebSocketClientOptions().AddHeader("X-Duplex-Test", "hello python");
        options.Subprotocols.Add("duplex.v1");
        options.Subprotocols.Add("duplex.v2");
        await using var client = await ConnectAsync(options);
        Assert.Equal("duplex.v2", client.Subprotocol);
        await client.SendTextAsync("handshake?");
        using var handshake = JsonDocument.Parse(await ClientExchange.NextTextAsync(client));
        var root = handshake.RootElement;
        Assert.Equal("duplex.v2", root.GetProperty("subprotocol").GetString());
        Assert.Equal("hello python", root.GetProperty("headers").GetProperty("x-duplex-test").GetString());
        Assert.Equal("/echo", root.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Close_from_websockets_with_4002_and_reason_is_seen_by_the_client()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("close-me");
        await ClientExchange.AssertEndsAsync(client);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal((CloseStatus)4002, client.CloseStatus);
        Assert.Equal("python closing ✓", client.CloseStatusDescription);
    }

    [Theory]
    [InlineData(CloseStatus.NormalClosure)]
    [InlineData(CloseStatus.GoingAway)]
    [InlineData(CloseStatus.PolicyViolation)]
    [InlineData((CloseStatus)4999)]
    public async Task Close_from_the_client_reaches_websockets_with_code_and_reason(CloseStatus status)
    {
        await using var client = await ConnectAsync();
        var reason = $"bye {(int)status} {Guid.NewGuid():N} ✓";
        await client.CloseAsync(status, reason).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(status, client.CloseStatus);
        var seen = await server.WaitForEventAsync(e => e.TryGetProperty("reason", out var r) && r.GetString() == reason);
        Assert.Equal((int)status, seen.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Text_sent_in_fragments_with_a_ping_between_reaches_websockets_whole()
    {
        await using var client = await ConnectAsync();
        await ClientExchange.AssertFragmentedTextEchoedAsync(client);
    }

    [Fact]
    public async Task Binary_sent_in_fragments_reaches_websockets_whole()
    {
        await using var client = await ConnectAsync();
        await ClientExchange.AssertFragmentedBinaryEchoedAsync(client);
    }

    [Fact]
    public async Task Large_message_from_websockets_can_be_received_in_chunks()
    {
        await ClientExchange.AssertLargeEchoArrivesInChunksAsync(options => ConnectAsync(options));
    }
}
