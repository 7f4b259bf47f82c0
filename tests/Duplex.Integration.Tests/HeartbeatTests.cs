using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>Keep-alive pings and dead-peer detection, with peers that go silent at the TCP level.</summary>
public class HeartbeatTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Server_drops_a_client_that_stops_answering_within_interval_plus_timeout()
    {
        var ended = new TaskCompletionSource<(CloseStatus?, TimeSpan)>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            var clock = Stopwatch.StartNew();
            await foreach (var _ in c.ReadMessagesAsync()) { }
            await c.Completion;
            ended.TrySetResult((c.CloseStatus, clock.Elapsed));
        }, o =>
        {
            o.Connection.KeepAliveInterval = Interval;
            o.Connection.KeepAliveTimeout = KeepAliveTimeout;
        }));
        // A client that completes the handshake and then never says anything again.
        var (stream, _) = await RawPeer.ConnectAsync(server.WebSocketUri("/ws"));
        using var _stream = stream;
        var (status, elapsed) = await ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(CloseStatus.AbnormalClosure, status);
        // Detected after one interval without traffic plus the timeout (scheduling slack allowed).
        Assert.InRange(elapsed, Interval + KeepAliveTimeout - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Client_drops_a_server_that_stops_answering()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var silentServer = Task.Run(async () =>
        {
            using var stream = await RawPeer.AcceptAsync(listener);
            // Never answer anything; hold the socket until the client gives up.
            var sink = new byte[1024];
            while (await stream.ReadAsync(sink) > 0) { }
        });
        var options = new WebSocketClientOptions { Connection = { KeepAliveInterval = Interval, KeepAliveTimeout = KeepAliveTimeout } };
        var client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), options);
        var clock = Stopwatch.StartNew();
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(CloseStatus.AbnormalClosure, client.CloseStatus);
        Assert.Equal(WebSocketState.Aborted, client.State);
        Assert.InRange(clock.Elapsed, Interval + KeepAliveTimeout - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        await silentServer.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_responsive_peer_stays_connected_and_round_trip_time_is_measured()
    {
        await using var server = await TestServer.StartEchoAsync();
        var options = new WebSocketClientOptions { Connection = { KeepAliveInterval = Interval, KeepAliveTimeout = KeepAliveTimeout } };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        await Task.Delay(Interval * 6);
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.NotNull(client.LastRoundTripTime);
    }

    [Fact]
    public async Task An_application_that_is_not_reading_causes_no_false_timeout()
    {
        var release = new TaskCompletionSource();
        var serverSide = new TaskCompletionSource<WebSocketConnection>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            serverSide.TrySetResult(c);
            await release.Task; // busy: reads nothing for a while
            await foreach (var _ in c.ReadMessagesAsync()) { }
        }, o =>
        {
            o.Connection.KeepAliveInterval = Interval;
            o.Connection.KeepAliveTimeout = KeepAliveTimeout;
            o.Connection.ReceiveQueueCapacity = 2;
        }));
        // The client itself never pings, and floods the server until its inbox is full and TCP pushes back.
        var options = new WebSocketClientOptions { Connection = { KeepAliveInterval = TimeSpan.Zero } };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"), options);
        var flood = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                while (client.State == WebSocketState.Open) await client.SendBinaryAsync(chunk).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception) { }
        });
        var connection = await serverSide.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay((Interval + KeepAliveTimeout) * 4);
        Assert.Equal(WebSocketState.Open, connection.State);
        release.SetResult();
        await client.CloseAsync();
        await flood.WaitAsync(TimeSpan.FromSeconds(15));
    }
}
