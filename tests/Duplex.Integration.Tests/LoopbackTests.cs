using System.Net;
using System.Security.Cryptography;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>The Duplex client against the Duplex server over real loopback sockets.</summary>
public class LoopbackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveOneAsync(WebSocketConnection c)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await foreach (var m in c.ReadMessagesAsync(cts.Token)) return (m.Type, m.ToArray());
        throw new InvalidOperationException($"connection ended ({c.CloseStatus}) before a message arrived");
    }

    [Fact]
    public async Task Text_message_comes_back_unchanged()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        await client.SendTextAsync("héllo ✓ 𝄞");
        var (type, data) = await ReceiveOneAsync(client);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("héllo ✓ 𝄞", Encoding.UTF8.GetString(data));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(127)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(65537)]
    public async Task Messages_at_length_encoding_boundaries_round_trip(int length)
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var binary = RandomNumberGenerator.GetBytes(length);
        var text = new string('a', length);
        await client.SendBinaryAsync(binary);
        await client.SendTextAsync(text);
        var first = await ReceiveOneAsync(client);
        var second = await ReceiveOneAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, first.Type);
        Assert.Equal(binary, first.Data);
        Assert.Equal(WebSocketMessageType.Text, second.Type);
        Assert.Equal(text, Encoding.UTF8.GetString(second.Data));
    }

    [Fact]
    public async Task A_16_MiB_message_round_trips_intact()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        await client.SendBinaryAsync(payload);
        var (type, data) = await ReceiveOneAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(data));
    }

    [Fact]
    public async Task A_fragmented_message_arrives_whole_and_other_sends_wait_for_it()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var writer = await client.BeginMessageAsync(WebSocketMessageType.Text);
        await writer.WriteAsync("frag"u8.ToArray());
        // A whole message sent meanwhile must not land inside the fragmented one (RFC 6455 §5.4).
        var other = client.SendTextAsync("other").AsTask();
        await Task.Delay(50);
        Assert.False(other.IsCompleted);
        await writer.WriteAsync("ment"u8.ToArray());
        // A character split across fragments is fine: UTF-8 is validated across frames.
        var snowman = "☃"u8.ToArray();
        await writer.WriteAsync(snowman.AsMemory(0, 1));
        await writer.CompleteAsync(snowman.AsMemory(1));
        await other;
        Assert.Equal("fragment☃", Encoding.UTF8.GetString((await ReceiveOneAsync(client)).Data));
        Assert.Equal("other", Encoding.UTF8.GetString((await ReceiveOneAsync(client)).Data));
    }

    [Fact]
    public async Task Many_concurrent_senders_never_interleave_messages()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        const int senders = 8, perSender = 200;
        var sends = Enumerable.Range(0, senders).Select(s => Task.Run(async () =>
        {
            for (int i = 0; i < perSender; i++)
            {
                // Sizes vary so frames of different header lengths race each other.
                var body = $"{s}:{i}:" + new string((char)('a' + s), (i * 37) % 3000);
                await client.SendTextAsync(body);
            }
        })).ToArray();
        var next = new int[senders];
        int received = 0;
        using var cts = new CancellationTokenSource(Timeout);
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            var parts = m.Text.Split(':', 3);
            int s = int.Parse(parts[0]), i = int.Parse(parts[1]);
            Assert.Equal(next[s], i); // each sender's messages stay in order
            Assert.Equal(new string((char)('a' + s), (i * 37) % 3000), parts[2]);
            next[s]++;
            if (++received == senders * perSender) break;
        }
        await Task.WhenAll(sends);
        Assert.All(next, n => Assert.Equal(perSender, n));
    }

    [Fact]
    public async Task Client_close_code_and_reason_reach_the_server()
    {
        var seen = new TaskCompletionSource<(CloseStatus?, string?)>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            await foreach (var _ in c.ReadMessagesAsync()) { }
            await c.Completion;
            seen.TrySetResult((c.CloseStatus, c.CloseStatusDescription));
        }));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        await client.CloseAsync((CloseStatus)4000, "app says bye");
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal((CloseStatus)4000, client.CloseStatus); // the server echoes the code
        var (code, reason) = await seen.Task.WaitAsync(Timeout);
        Assert.Equal((CloseStatus)4000, code);
        Assert.Equal("app says bye", reason);
    }

    [Fact]
    public async Task Server_close_code_and_reason_reach_the_client()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", c =>
            c.CloseAsync((CloseStatus)4001, "go away")));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal((CloseStatus)4001, client.CloseStatus);
        Assert.Equal("go away", client.CloseStatusDescription);
    }

    [Fact]
    public async Task Handler_returning_closes_the_connection_with_1000()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", _ => Task.CompletedTask));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task Handler_throwing_closes_the_connection_with_1011()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", _ => throw new InvalidOperationException("boom")));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.InternalServerError, client.CloseStatus);
    }

    [Fact]
    public async Task Client_abort_is_seen_by_the_server_as_1006()
    {
        var seen = new TaskCompletionSource<CloseStatus?>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            await foreach (var _ in c.ReadMessagesAsync()) { }
            await c.Completion;
            seen.TrySetResult(c.CloseStatus);
        }));
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        client.Abort();
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.Equal(CloseStatus.AbnormalClosure, client.CloseStatus);
        Assert.Equal(CloseStatus.AbnormalClosure, await seen.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Server_shutdown_closes_clients_with_1001()
    {
        var server = await TestServer.StartEchoAsync();
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        await client.SendTextAsync("x");
        await ReceiveOneAsync(client);
        await server.Registry.CloseAllAsync(CloseStatus.GoingAway, "restarting");
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.GoingAway, client.CloseStatus);
        Assert.Equal("restarting", client.CloseStatusDescription);
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Message_over_the_server_limit_fails_with_1009()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Connection.MaxMessageSize = 1000);
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        await client.SendBinaryAsync(new byte[1001]);
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.MessageTooBig, client.CloseStatus);
    }

    [Fact]
    public async Task Sending_after_close_throws()
    {
        await using var server = await TestServer.StartEchoAsync();
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        await client.CloseAsync();
        await Assert.ThrowsAsync<WebSocketClosedException>(async () => await client.SendTextAsync("late"));
    }

    [Fact]
    public async Task Ping_measures_a_round_trip()
    {
        await using var server = await TestServer.StartEchoAsync();
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var rtt = await client.PingAsync("are you there"u8.ToArray()).WaitAsync(Timeout);
        Assert.True(rtt > TimeSpan.Zero && rtt < Timeout);
    }

    [Fact]
    public async Task Large_message_can_be_received_in_parts()
    {
        await using var server = await TestServer.StartEchoAsync();
        var options = new WebSocketClientOptions { Connection = { ReceiveChunkSize = 64 * 1024 } };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024 + 17);
        await client.SendBinaryAsync(payload);
        var received = new MemoryStream();
        int parts = 0;
        using var cts = new CancellationTokenSource(Timeout);
        await foreach (var m in client.ReadMessagesAsync(cts.Token))
        {
            Assert.True(m.Length <= 64 * 1024);
            received.Write(m.Data.Span);
            parts++;
            if (m.EndOfMessage) break;
        }
        Assert.True(parts >= 17);
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public async Task Subprotocol_is_chosen_by_the_server_among_those_offered()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws",
            c => c.SendTextAsync(c.Subprotocol ?? "none").AsTask(),
            o => o.SelectSubprotocol = offered => offered.Contains("chat.v2") ? "chat.v2" : null));
        var options = new WebSocketClientOptions();
        options.Subprotocols.Add("chat.v1");
        options.Subprotocols.Add("chat.v2");
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"), options);
        Assert.Equal("chat.v2", client.Subprotocol);
        Assert.Equal("chat.v2", Encoding.UTF8.GetString((await ReceiveOneAsync(client)).Data));
    }

    [Fact]
    public async Task Refused_origin_fails_the_handshake_with_403()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.ValidateOrigin = origin => origin == "https://good.example");
        var options = new WebSocketClientOptions().AddHeader("Origin", "https://evil.example");
        var ex = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options));
        Assert.Equal(HandshakeCheck.Status, ex.Check);
        Assert.Equal(403, ex.StatusCode);
        var good = new WebSocketClientOptions().AddHeader("Origin", "https://good.example");
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), good);
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Fact]
    public async Task Connects_over_IPv6_loopback()
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }), address: IPAddress.IPv6Loopback);
        var uri = new Uri($"ws://[::1]:{server.BaseUri.Port}/echo");
        await using var client = await WebSocketClient.ConnectAsync(uri);
        await client.SendTextAsync("v6");
        Assert.Equal("v6", Encoding.UTF8.GetString((await ReceiveOneAsync(client)).Data));
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetworkV6, ((IPEndPoint)client.RemoteEndPoint!).Address.AddressFamily);
    }

    [Fact]
    public async Task Connection_refused_surfaces_as_a_socket_error()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/")));
    }
}
