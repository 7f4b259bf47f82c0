using System.Diagnostics;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

public class RateLimitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Peer_over_its_message_rate_is_closed_with_1008()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Connection.ReceiveRateLimit = new ReceiveRateLimit { MessagesPerSecond = 5 });
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        for (int i = 0; i < 20 && client.State == WebSocketState.Open; i++)
        {
            try { await client.SendTextAsync($"m{i}"); } catch (WebSocketClosedException) { }
        }
        await foreach (var _ in client.ReadMessagesAsync()) { }
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.PolicyViolation, client.CloseStatus);
        Assert.Equal("receive rate limit exceeded", client.CloseStatusDescription);
    }

    [Fact]
    public async Task Peer_over_its_byte_rate_is_closed_with_1008()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Connection.ReceiveRateLimit = new ReceiveRateLimit { BytesPerSecond = 1000 });
        var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        for (int i = 0; i < 5 && client.State == WebSocketState.Open; i++)
        {
            try { await client.SendBinaryAsync(new byte[600]); } catch (WebSocketClosedException) { }
        }
        await foreach (var _ in client.ReadMessagesAsync()) { }
        await client.Completion.WaitAsync(Timeout);
        Assert.Equal(CloseStatus.PolicyViolation, client.CloseStatus);
    }

    [Fact]
    public async Task Slow_policy_delivers_every_message_but_no_faster_than_the_rate()
    {
        int received = 0;
        var done = new TaskCompletionSource();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            await foreach (var _ in c.ReadMessagesAsync())
                if (Interlocked.Increment(ref received) == 30) done.TrySetResult();
        }, o => o.Connection.ReceiveRateLimit = new ReceiveRateLimit { MessagesPerSecond = 10, Policy = RateLimitPolicy.Slow }));
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"));
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 30; i++) await client.SendTextAsync($"m{i}");
        await done.Task.WaitAsync(Timeout);
        // 10 at once (the burst), then 10 per second: at least ~2 s for 30. Only a lower bound is
        // asserted; a busy machine can only make it slower.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.5), $"took {clock.Elapsed}");
        Assert.Equal(WebSocketState.Open, client.State);
    }

    private static async Task<WebSocketHandshakeException> RefusedAsync(Uri uri) =>
        await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(uri));

    [Fact]
    public async Task Too_many_new_connections_per_second_from_one_address_get_429_with_retry_after()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Limits.ConnectionsPerSecondPerAddress = 3);
        var open = new List<WebSocketConnection>();
        for (int i = 0; i < 3; i++) open.Add(await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo")));
        var refused = await RefusedAsync(server.WebSocketUri("/echo"));
        Assert.Equal(429, refused.StatusCode);
        Assert.Equal("1", refused.Headers["Retry-After"]);
        foreach (var c in open) await c.CloseAsync();
    }

    [Fact]
    public async Task Too_many_open_connections_from_one_address_get_429_until_one_closes()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Limits.MaxConnectionsPerAddress = 2);
        var first = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var second = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        Assert.Equal(429, (await RefusedAsync(server.WebSocketUri("/echo"))).StatusCode);
        await first.CloseAsync();
        WebSocketConnection? third = null;
        for (int i = 0; i < 50 && third is null; i++)
        {
            try { third = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo")); }
            catch (WebSocketHandshakeException) { await Task.Delay(20); } // the server may still be finishing the first
        }
        Assert.NotNull(third);
        await second.CloseAsync();
        await third!.CloseAsync();
    }

    [Fact]
    public async Task Global_connection_cap_is_answered_503()
    {
        await using var server = await TestServer.StartEchoAsync(o => o.Limits.MaxConnections = 2);
        var a = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var b = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
        var refused = await RefusedAsync(server.WebSocketUri("/echo"));
        Assert.Equal(503, refused.StatusCode);
        Assert.True(refused.Headers.ContainsKey("Retry-After"));
        await a.CloseAsync();
        await b.CloseAsync();
    }
}
