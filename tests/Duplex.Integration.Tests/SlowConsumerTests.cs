using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>Broadcast with a recipient that stops reading: the others get everything, memory stays bounded.</summary>
public class SlowConsumerTests
{
    // Completes the handshake and then never reads again: its socket buffers fill and TCP pushes back.
    private static async Task<NetworkStream> StalledClientAsync(Uri ws) => (await RawPeer.ConnectAsync(ws, receiveBufferSize: 4096)).Stream;

    [Theory]
    [InlineData(SlowConsumerPolicy.DropMessage)]
    [InlineData(SlowConsumerPolicy.Close)]
    public async Task Broadcast_does_not_wait_for_a_reader_that_stopped_and_its_buffer_stays_bounded(SlowConsumerPolicy policy)
    {
        const long limit = 1024 * 1024;
        const int messages = 320, size = 64 * 1024, receivers = 10; // 20 MiB to each receiver
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/feed", async c =>
        {
            ((WebSocketConnectionRegistry)app.Services.GetService(typeof(WebSocketConnectionRegistry))!)["feed"].Add(c);
            await foreach (var _ in c.ReadMessagesAsync()) { }
        }, o =>
        {
            o.Connection.MaxBufferedBytes = limit;
            o.Connection.SlowConsumerPolicy = policy;
            o.Connection.KeepAliveInterval = TimeSpan.Zero;
            o.Connection.CloseTimeout = TimeSpan.FromSeconds(1);
        }));
        var feed = server.Registry["feed"];
        long slowEvents = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DuplexMetrics.MeterName && instrument.Name == "duplex.broadcast.slow_consumer") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref slowEvents, value));
        listener.Start();

        using var stalled = await StalledClientAsync(server.WebSocketUri("/feed"));
        var clients = new List<WebSocketConnection>();
        for (int i = 0; i < receivers; i++) clients.Add(await WebSocketClient.ConnectAsync(server.WebSocketUri("/feed")));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (feed.Count < receivers + 1 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(receivers + 1, feed.Count);
        int stalledPort = ((System.Net.IPEndPoint)stalled.Socket.LocalEndPoint!).Port;
        var slow = feed.Members.Single(m => ((System.Net.IPEndPoint)m.RemoteEndPoint!).Port == stalledPort);
        var healthy = feed.Members.Where(m => m != slow).ToArray();

        var receiving = clients.Select(c => Task.Run(async () =>
        {
            int count = 0;
            long bytes = 0;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await foreach (var m in c.ReadMessagesAsync(cts.Token))
            {
                bytes += m.Length;
                if (m.Data.Span[0] != (byte)(count % 251)) throw new InvalidOperationException($"message {count} out of order");
                if (++count == messages) break;
            }
            return bytes;
        })).ToArray();

        long maxBuffered = 0;
        var payload = new byte[size];
        for (int i = 0; i < messages; i++)
        {
            payload[0] = (byte)(i % 251);
            await feed.BroadcastAsync(payload, WebSocketMessageType.Binary);
            maxBuffered = Math.Max(maxBuffered, slow.BufferedAmount);
            // Pace the publisher on the healthy receivers (as a feed with its own clock would be slower
            // than loopback): they must never reach the limit, the stalled one must.
            while (healthy.Any(h => h.BufferedAmount > limit / 4)) await Task.Delay(1);
        }
        var totals = await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(totals, t => Assert.Equal((long)messages * size, t));
        // The stalled connection never held more than its limit plus the message that crossed it.
        Assert.InRange(maxBuffered, 1, limit + size + 16);
        Assert.True(Interlocked.Read(ref slowEvents) > 0);
        if (policy == SlowConsumerPolicy.Close)
        {
            await slow.Completion.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(slow.CloseStatus is CloseStatus.TryAgainLater or CloseStatus.AbnormalClosure);
        }
        foreach (var c in clients) await c.DisposeAsync();
    }
}
