using System.Text.Json;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;

namespace Duplex.Integration.Tests.Interop;

/// <summary>
/// IdleTimeout and MaxLifetime against Node's `ws` (tests/peers/ws-quiet.js): the close code and reason
/// the client sees, and what counts as activity.
/// </summary>
public sealed class IdleAndLifetimeTests
{
    private static async Task<JsonElement> RunAsync(Action<WebSocketConnectionOptions> connection, int messages, int everyMs, bool fastPath = false)
    {
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, o => connection(o.Connection)), fastPath: fastPath);
        await using var peer = PeerProcess.Start(InteropPeers.Node, InteropPeers.Script("ws-quiet.js"),
            server.WebSocketUri("/echo").ToString(), messages.ToString(), everyMs.ToString());
        var report = await peer.ReadJsonAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, await peer.WaitForExitAsync());
        return report;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_connection_that_receives_no_message_for_the_idle_timeout_is_closed_with_1001_idle_timeout_though_pings_and_pongs_go_on(bool fastPath)
    {
        // Messages every 100 ms for 1.5 s keep it open past the 1 s idle timeout (with room for a loaded
        // machine's stalls); then only the client's pings and the server's keep-alive pings (answered by
        // ws) flow, and neither counts.
        var report = await RunAsync(o =>
        {
            o.IdleTimeout = TimeSpan.FromSeconds(1);
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
        }, messages: 15, everyMs: 100, fastPath);

        Assert.Equal(1001, report.GetProperty("close").GetProperty("code").GetInt32());
        Assert.Equal("idle timeout", report.GetProperty("close").GetProperty("reason").GetString());
        Assert.Equal(15, report.GetProperty("sent").GetInt32());
        Assert.Equal(15, report.GetProperty("echoed").GetInt32());
        Assert.True(report.GetProperty("pings").GetInt32() >= 1, "the client pinged while it idled");
        Assert.True(report.GetProperty("pongs").GetInt32() >= 1, "the client's pings were answered while it idled");
    }

    [Fact]
    public async Task A_busy_connection_is_closed_at_its_max_lifetime_with_1001_max_lifetime()
    {
        // Sending every 50 ms: never idle, and no idle timeout set; only the lifetime ends it.
        var report = await RunAsync(o =>
        {
            o.MaxLifetime = TimeSpan.FromMilliseconds(600);
            o.MaxLifetimeJitter = 0.5;
        }, messages: 1000, everyMs: 50);

        Assert.Equal(1001, report.GetProperty("close").GetProperty("code").GetInt32());
        Assert.Equal("max lifetime", report.GetProperty("close").GetProperty("reason").GetString());
        int sent = report.GetProperty("sent").GetInt32();
        Assert.InRange(sent, 1, 999);
    }
}
