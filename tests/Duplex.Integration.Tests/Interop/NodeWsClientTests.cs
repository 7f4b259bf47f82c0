using System.Text;
using System.Text.Json;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// Runs tests/peers/ws-client.js (Node's `ws`, the most used WebSocket library on npm) once against
/// a Duplex server; each test below judges one part of that exchange.
/// </summary>
public sealed class NodeWsClientExchange : IAsyncLifetime
{
    private EchoRecorder? _server;

    public JsonElement Report { get; private set; }

    internal IReadOnlyList<ServerSideConnection> ServerSide { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var node = InteropPeers.Node;
        var script = InteropPeers.Script("ws-client.js");
        _server = await EchoRecorder.StartAsync();
        await using var peer = PeerProcess.Start(node, script, _server.Server.WebSocketUri("/echo").ToString());
        Report = await peer.ReadJsonAsync();
        var exit = await peer.WaitForExitAsync();
        Assert.True(exit == 0, $"ws-client.js exited with {exit}: {peer.StandardError}");
        var connections = _server.Connections.ToArray();
        Assert.Equal(3, connections.Length);
        await Task.WhenAll(connections.Select(c => c.Ended.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        ServerSide = connections;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

public sealed class NodeWsClientTests(NodeWsClientExchange exchange) : IClassFixture<NodeWsClientExchange>
{
    private IEnumerable<JsonElement> Echoes => exchange.Report.GetProperty("echoes").EnumerateArray();

    private JsonElement Echo(string name) => Echoes.Single(e => e.GetProperty("name").GetString() == name);

    [Theory]
    [InlineData("text")]
    [InlineData("text-unicode")]
    [InlineData("text-empty")]
    [InlineData("binary-empty")]
    [InlineData("binary-125")]
    [InlineData("binary-126")]
    [InlineData("binary-65535")]
    [InlineData("binary-65536")]
    [InlineData("text-65536")]
    [InlineData("binary-1MiB")]
    [InlineData("text-fragmented")]
    [InlineData("binary-fragmented")]
    public void Echo_reaches_ws_byte_exact_with_its_type(string name)
    {
        var echo = Echo(name);
        Assert.Equal(echo.GetProperty("sentBinary").GetBoolean(), echo.GetProperty("receivedBinary").GetBoolean());
        var sent = Convert.FromBase64String(echo.GetProperty("sent").GetString()!);
        var received = Convert.FromBase64String(echo.GetProperty("received").GetString()!);
        Assert.Equal(sent.Length, received.Length);
        Assert.True(sent.AsSpan().SequenceEqual(received), $"{name}: the echo differs from what ws sent");
    }

    [Fact]
    public void Server_receives_each_ws_message_whole_in_order_with_its_type()
    {
        var echoes = Echoes.ToArray();
        var received = exchange.ServerSide[0].Messages.ToArray();
        Assert.Equal(echoes.Length, received.Length);
        for (int i = 0; i < echoes.Length; i++)
        {
            var expectedType = echoes[i].GetProperty("sentBinary").GetBoolean() ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
            Assert.Equal(expectedType, received[i].Type);
            Assert.Equal(Convert.FromBase64String(echoes[i].GetProperty("sent").GetString()!), received[i].Data);
        }
    }

    [Fact]
    public void Text_fragmented_inside_a_utf8_character_is_reassembled()
    {
        var fragmented = exchange.ServerSide[0].Messages.ToArray()[Echoes.ToList().FindIndex(e => e.GetProperty("name").GetString() == "text-fragmented")];
        Assert.Equal(WebSocketMessageType.Text, fragmented.Type);
        Assert.Equal("frag✓ment", Encoding.UTF8.GetString(fragmented.Data));
    }

    [Fact]
    public void Ping_from_ws_is_answered_with_a_pong_carrying_its_payload()
    {
        var ping = exchange.Report.GetProperty("ping");
        Assert.Equal("ping ✓ 123", Encoding.UTF8.GetString(Convert.FromBase64String(ping.GetProperty("pong").GetString()!)));
    }

    [Fact]
    public void Close_from_ws_reaches_the_server_with_code_and_reason_and_is_echoed()
    {
        var server = exchange.ServerSide[0];
        Assert.Equal((CloseStatus)4000, server.CloseStatus);
        Assert.Equal("client done ✓", server.CloseStatusDescription);
        Assert.Equal(WebSocketState.Closed, server.State);
        // RFC 6455 §5.5.1: the answer echoes the status code.
        Assert.Equal(4000, exchange.Report.GetProperty("clientClose").GetProperty("code").GetInt32());
    }

    [Fact]
    public void Close_from_the_server_reaches_ws_with_code_and_reason()
    {
        var close = exchange.Report.GetProperty("serverClose");
        Assert.Equal((int)EchoRecorder.ServerCloseStatus, close.GetProperty("code").GetInt32());
        Assert.Equal(EchoRecorder.ServerCloseReason, close.GetProperty("reason").GetString());
        var server = exchange.ServerSide[1];
        Assert.Equal(EchoRecorder.ServerCloseStatus, server.CloseStatus);
        Assert.Equal(WebSocketState.Closed, server.State);
    }

    [Fact]
    public void Text_that_is_not_utf8_fails_the_connection_with_1007()
    {
        Assert.Equal(1007, exchange.Report.GetProperty("invalidUtf8Close").GetProperty("code").GetInt32());
        var server = exchange.ServerSide[2];
        Assert.Equal(CloseStatus.InvalidPayloadData, server.CloseStatus);
        Assert.Empty(server.Messages);
    }
}
