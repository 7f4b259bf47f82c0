using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Duplex.Protocol;

namespace Duplex.Integration.Tests.Interop;

/// <summary>tests/peers/ws-echo-server.js: Node's `ws` as the server.</summary>
public sealed class NodeWsServer : PeerServer
{
    protected override (string FileName, string[] Arguments) Command => (InteropPeers.Node, [InteropPeers.Script("ws-echo-server.js")]);
}

public sealed class NodeWsServerTests(NodeWsServer server) : IClassFixture<NodeWsServer>
{
    private Task<WebSocketConnection> ConnectAsync(WebSocketClientOptions? options = null) =>
        WebSocketClient.ConnectAsync(server.Uri("/echo"), options ?? new WebSocketClientOptions { ConnectTimeout = TimeSpan.FromSeconds(10) });

    public static TheoryData<string, bool, int> Messages => ClientExchange.Messages;

    [Theory]
    [MemberData(nameof(Messages))]
    public async Task Ws_echoes_the_message_byte_exact_with_its_type(string kind, bool binary, int length)
    {
        await using var client = await ConnectAsync();
        var (type, data) = ClientExchange.Build(kind, binary, length);
        await ClientExchange.AssertEchoedAsync(client, type, data);
    }

    [Fact]
    public async Task Messages_sent_back_to_back_come_back_in_order()
    {
        await using var client = await ConnectAsync();
        var sent = Enumerable.Range(0, 50).Select(i => ClientExchange.Pattern(i * 100, i)).ToArray();
        foreach (var data in sent) await client.SendBinaryAsync(data);
        foreach (var data in sent)
        {
            var (type, echo) = await ClientExchange.NextAsync(client);
            Assert.Equal(WebSocketMessageType.Binary, type);
            Assert.Equal(data, echo);
        }
    }

    [Fact]
    public async Task Fragmented_message_from_ws_arrives_whole()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("fragments-please");
        Assert.Equal("one ✓ three", await ClientExchange.NextTextAsync(client));
    }

    [Fact]
    public async Task Ping_from_ws_is_answered_with_its_payload()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("ping-me");
        Assert.Equal("pong:server ping ✓", await ClientExchange.NextTextAsync(client));
    }

    [Fact]
    public async Task With_auto_pong_off_the_application_sees_the_ping_and_answers_it_by_hand()
    {
        var options = new WebSocketClientOptions { ConnectTimeout = TimeSpan.FromSeconds(10) };
        options.Connection.AutoPong = false;
        await using var client = await ConnectAsync(options);
        var pinged = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.PingReceived += (_, payload) => pinged.TrySetResult(payload.ToArray());
        await client.SendTextAsync("ping-me");
        var payload = await pinged.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("server ping ✓", Encoding.UTF8.GetString(payload));

        // Nothing answered it yet: ws only reports the pong that this sends, with this payload.
        await client.SendPongAsync(Encoding.UTF8.GetBytes("answered by hand"));
        Assert.Equal("pong:answered by hand", await ClientExchange.NextTextAsync(client));
    }

    [Fact]
    public async Task Ping_received_fires_before_the_automatic_pong_and_pong_received_reports_ws_answers()
    {
        await using var client = await ConnectAsync();
        var pings = new List<string>();
        var pongs = new List<string>();
        client.PingReceived += (_, p) => { lock (pings) pings.Add(Encoding.UTF8.GetString(p.Span)); };
        client.PongReceived += (_, p) => { lock (pongs) pongs.Add(Encoding.UTF8.GetString(p.Span)); };
        await client.SendTextAsync("ping-me");
        Assert.Equal("pong:server ping ✓", await ClientExchange.NextTextAsync(client)); // answered automatically
        lock (pings) Assert.Equal(["server ping ✓"], pings);

        await client.PingAsync(Encoding.UTF8.GetBytes("rtt probe")).WaitAsync(TimeSpan.FromSeconds(10));
        lock (pongs) Assert.Equal(["rtt probe"], pongs);
        await Assert.ThrowsAsync<ArgumentException>(() => client.SendPongAsync(new byte[126]));
    }

    [Fact]
    public async Task Ping_to_ws_completes_when_its_pong_arrives()
    {
        await using var client = await ConnectAsync();
        var rtt = await client.PingAsync(Encoding.UTF8.GetBytes("duplex ping")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(rtt >= TimeSpan.Zero);
    }

    [Fact]
    public async Task Subprotocol_chosen_by_ws_is_the_connections_subprotocol()
    {
        var options = new WebSocketClientOptions();
        options.Subprotocols.Add("duplex.v1");
        options.Subprotocols.Add("duplex.v2");
        await using var client = await ConnectAsync(options);
        Assert.Equal("duplex.v2", client.Subprotocol);
        await client.SendTextAsync("handshake?");
        using var handshake = JsonDocument.Parse(await ClientExchange.NextTextAsync(client));
        Assert.Equal("duplex.v2", handshake.RootElement.GetProperty("protocol").GetString());
        Assert.Equal("duplex.v1, duplex.v2", handshake.RootElement.GetProperty("headers").GetProperty("sec-websocket-protocol").GetString());
    }

    [Fact]
    public async Task No_subprotocol_when_ws_accepts_none_of_those_offered()
    {
        var options = new WebSocketClientOptions();
        options.Subprotocols.Add("something-else");
        await using var client = await ConnectAsync(options);
        Assert.Null(client.Subprotocol);
        await ClientExchange.AssertEchoedAsync(client, WebSocketMessageType.Text, "still works"u8.ToArray());
    }

    [Fact]
    public async Task Custom_header_and_query_reach_ws()
    {
        var options = new WebSocketClientOptions().AddHeader("X-Duplex-Test", "hello ws");
        await using var client = await WebSocketClient.ConnectAsync(server.Uri("/echo?room=a%20b&n=1"), options);
        await client.SendTextAsync("handshake?");
        using var handshake = JsonDocument.Parse(await ClientExchange.NextTextAsync(client));
        var root = handshake.RootElement;
        Assert.Equal("hello ws", root.GetProperty("headers").GetProperty("x-duplex-test").GetString());
        Assert.Equal("/echo?room=a%20b&n=1", root.GetProperty("url").GetString());
        Assert.Equal($"127.0.0.1:{server.Port}", root.GetProperty("headers").GetProperty("host").GetString());
    }

    [Fact]
    public async Task Close_from_ws_with_4001_and_reason_is_seen_by_the_client()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("close-me");
        await ClientExchange.AssertEndsAsync(client);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal((CloseStatus)4001, client.CloseStatus);
        Assert.Equal("server closing ✓", client.CloseStatusDescription);
    }

    [Fact]
    public async Task Close_from_the_client_reaches_ws_with_code_and_reason()
    {
        await using var client = await ConnectAsync();
        var reason = $"client done {Guid.NewGuid():N} ✓";
        await client.CloseAsync((CloseStatus)4000, reason).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketState.Closed, client.State);
        // ws answers with the code it received (RFC 6455 §5.5.1).
        Assert.Equal((CloseStatus)4000, client.CloseStatus);
        var seen = await server.WaitForEventAsync(e => e.TryGetProperty("reason", out var r) && r.GetString() == reason);
        Assert.Equal(4000, seen.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Close_frame_without_a_code_from_ws_reads_as_1005()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("close-empty");
        await ClientExchange.AssertEndsAsync(client);
        Assert.Equal(WebSocketState.Closed, client.State);
        // RFC 6455 §7.1.5: no status code in the close frame is reported as 1005.
        Assert.Equal(CloseStatus.NoStatusReceived, client.CloseStatus);
    }

    [Fact]
    public async Task Ws_dropping_tcp_without_a_close_frame_reads_as_1006_aborted()
    {
        await using var client = await ConnectAsync();
        await client.SendTextAsync("terminate-me");
        await ClientExchange.AssertEndsAsync(client);
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.Equal(CloseStatus.AbnormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Text_sent_in_fragments_with_a_ping_between_reaches_ws_whole()
    {
        await using var client = await ConnectAsync();
        await ClientExchange.AssertFragmentedTextEchoedAsync(client);
    }

    [Fact]
    public async Task Binary_sent_in_fragments_reaches_ws_whole()
    {
        await using var client = await ConnectAsync();
        await ClientExchange.AssertFragmentedBinaryEchoedAsync(client);
    }

    [Fact]
    public async Task Large_message_from_ws_can_be_received_in_chunks()
    {
        await ClientExchange.AssertLargeEchoArrivesInChunksAsync(options => ConnectAsync(options));
    }

    // A close handshake with ws over loopback takes milliseconds; the bound is well under the
    // connection's 1 s "consumer grace" so that waiting it out shows, yet loose for a busy machine.
    private static readonly TimeSpan PromptClose = TimeSpan.FromMilliseconds(800);

    [Fact]
    public async Task Client_close_after_reading_one_message_and_leaving_the_loop_finishes_promptly()
    {
        await using var client = await ConnectAsync();
        // The README's pattern: read one message, then break out of the await foreach.
        await ClientExchange.AssertEchoedAsync(client, WebSocketMessageType.Text, "one"u8.ToArray());
        var watch = Stopwatch.StartNew();
        await client.CloseAsync(CloseStatus.NormalClosure, "done").WaitAsync(TimeSpan.FromSeconds(10));
        watch.Stop();
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.True(watch.Elapsed < PromptClose, $"CloseAsync took {watch.Elapsed.TotalMilliseconds:F0} ms: our close frame was already out, yet the answer to ws's close waited for a consumer");
    }

    [Fact]
    public async Task Close_from_ws_after_the_client_left_its_read_loop_is_answered_promptly()
    {
        await using var client = await ConnectAsync();
        await ClientExchange.AssertEchoedAsync(client, WebSocketMessageType.Text, "one"u8.ToArray());
        var watch = Stopwatch.StartNew();
        await client.SendTextAsync("close-me");
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        watch.Stop();
        Assert.Equal((CloseStatus)4001, client.CloseStatus);
        Assert.True(watch.Elapsed < PromptClose, $"the close handshake took {watch.Elapsed.TotalMilliseconds:F0} ms: the reply to ws's close waited for a consumer that had left ReadMessagesAsync");
    }
}
