using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;

namespace Duplex.Integration.Tests;

[Collection(nameof(MetricsTests))] // the meter is process-wide: no other test class runs beside this one
[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public class MetricsTests
{
    [Fact]
    public async Task Meter_reports_handshakes_messages_bytes_close_codes_and_rejections()
    {
        var totals = new ConcurrentDictionary<string, long>();
        var tags = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Duplex") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tagList, _) =>
        {
            totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
            foreach (var t in tagList) tags.Add($"{instrument.Name}:{t.Key}={t.Value}");
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => totals.AddOrUpdate(instrument.Name, 1, (_, v) => v + 1));
        listener.Start();

        await using (var server = await TestServer.StartEchoAsync(o => o.ValidateOrigin = origin => origin != "http://evil.example"))
        {
            var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"));
            for (int i = 0; i < 10; i++) await client.SendTextAsync("0123456789");
            int echoed = 0;
            await foreach (var _ in client.ReadMessagesAsync())
                if (++echoed == 10) break;
            await client.PingAsync();
            await client.CloseAsync(CloseStatus.NormalClosure);
            await Assert.ThrowsAsync<WebSocketHandshakeException>(() =>
                WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), new WebSocketClientOptions().AddHeader("Origin", "http://evil.example")));
        }

        // Both ends of the connection live in this process, so each message counts as sent and received twice over.
        Assert.True(totals.GetValueOrDefault("duplex.handshake.accepted") >= 2);
        Assert.True(totals.GetValueOrDefault("duplex.messages.sent") >= 20);
        Assert.True(totals.GetValueOrDefault("duplex.messages.received") >= 20);
        Assert.True(totals.GetValueOrDefault("duplex.bytes.sent") >= 10 * (10 + 6));
        Assert.True(totals.GetValueOrDefault("duplex.bytes.received") >= 10 * (10 + 6));
        Assert.True(totals.GetValueOrDefault("duplex.ping.rtt") >= 1);
        Assert.True(totals.GetValueOrDefault("duplex.handshake.rejected") >= 1);
        Assert.Contains("duplex.handshake.rejected:status=403", tags);
        Assert.Contains("duplex.connections.closed:code=1000", tags);
    }
}
