using Duplex.SocketIO.Redis.Tests.Infrastructure;
using StackExchange.Redis;
using ClusterNode = Duplex.SocketIO.Redis.Tests.Infrastructure.ClusterNode;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>Redis going away, coming back, and talking nonsense: the servers keep serving.</summary>
[Collection("cluster")]
public class OutageTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Redis_stopped_and_restarted_during_traffic_the_nodes_serve_their_clients_count_the_outage_and_resume()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A");
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B");
        await a.WaitForServerCountAsync(2);
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var onB = await SioClient.ConnectAsync(b, "bob", "r");
        await b.GetAsync("/ctl/emit?room=r&event=before");
        await onA.NextEventAsync("before", timeout: Wait);
        Assert.Equal(0, await a.CounterAsync("duplex.socketio.redis.errors:connection"));

        // Traffic keeps flowing from B while Redis is stopped.
        using var traffic = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            int n = 0;
            while (!traffic.IsCancellationRequested)
            {
                await b.GetAsync($"/ctl/emit?room=r&event=during&text={n++}");
                await Task.Delay(20);
            }
            return n;
        });
        await Task.Delay(300);
        await redis.StopAsync();

        // The outage is counted, and each node still serves its own clients.
        await DuplexClusterTests.WaitUntilAsync(async () => await a.CounterAsync("duplex.socketio.redis.errors:connection") > 0, Wait);
        await DuplexClusterTests.WaitUntilAsync(async () => await b.CounterAsync("duplex.socketio.redis.errors:publish") > 0, Wait);
        await a.GetAsync("/ctl/emit?room=r&event=local&text=still-here");
        Assert.Equal("still-here", (await onA.NextEventAsync("local", timeout: Wait))[0].GetProperty("text").GetString());
        Assert.Equal(1, (await a.GetAsync("/ctl/count")).GetProperty("servers").GetInt32()); // alone while Redis is away
        var fetched = await a.GetAsync("/ctl/fetch");
        Assert.Equal(onA.Id, fetched.GetProperty("sockets").EnumerateArray().Single().GetProperty("id").GetString());

        // Redis is back on the same port: the nodes reconnect and resubscribe by themselves.
        await redis.RestartAsync();
        await a.WaitForServerCountAsync(2, TimeSpan.FromSeconds(40));
        await b.WaitForServerCountAsync(2, TimeSpan.FromSeconds(40));
        traffic.Cancel();
        int sent = await sending;
        Assert.True(sent > 0);
        await b.GetAsync("/ctl/emit?room=r&event=after&text=resumed");
        Assert.Equal("resumed", (await onA.NextEventAsync("after", timeout: Wait))[0].GetProperty("text").GetString());

        // B logged the outage of its publishes once, under the adapter's own category, and once more when
        // publishing resumed — not once per lost publish (each of which is counted instead).
        await DuplexClusterTests.WaitUntilAsync(() => Task.FromResult(b.Process.Transcript.Contains("publishing again")), Wait);
        var log = b.Process.Transcript.Split('\n');
        var outageLines = log.Where(l => l.Contains("cannot publish to Redis")).ToList();
        long lost = await b.CounterAsync("duplex.socketio.redis.errors:publish");
        Assert.InRange(outageLines.Count, 1, 2); // a second only if the connection flapped while coming back
        Assert.All(outageLines, l => Assert.Contains("Duplex.SocketIO.Redis", l));
        Assert.True(lost > outageLines.Count, $"{lost} lost publishes, {outageLines.Count} log lines");
        Assert.DoesNotContain(log, l => l.Contains("not published to"));
        Assert.False(a.Process.HasExited);
        Assert.False(b.Process.HasExited);
    }

    [Fact]
    public async Task Malformed_messages_on_the_adapter_channels_are_counted_and_ignored()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A");
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var publisher = mux.GetSubscriber();
        byte[][] garbage =
        [
            [0xc1],                                    // not MessagePack
            [0x93, 0xa1, 0x78],                        // truncated envelope
            MsgPack.Build(w => { w.ArrayHeader(3); w.String("x"); w.Int(5); w.MapHeader(0); }),      // packet is not an object
            MsgPack.Build(w => { w.ArrayHeader(3); w.String("x"); w.MapHeader(2); w.String("type"); w.Int(0); w.String("data"); w.Nil(); w.MapHeader(0); }), // a CONNECT, not an event
        ];
        foreach (var message in garbage) await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#"), message);
        await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#r#"), new byte[] { 0x92, 0xff });
        await publisher.PublishAsync(RedisChannel.Literal("socket.io-request#/#"), "{not json");
        await publisher.PublishAsync(RedisChannel.Literal("socket.io-request#/#"), """{"type":42,"uid":"x"}""");
        await publisher.PublishAsync(RedisChannel.Literal("socket.io-request#/#"), """{"type":6,"uid":"x","data":"not-an-array"}""");
        await publisher.PublishAsync(RedisChannel.Literal("socket.io-response#/#"), new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff });

        await DuplexClusterTests.WaitUntilAsync(async () => await a.CounterAsync("duplex.socketio.redis.errors:malformed") >= 9, Wait);
        // A well-formed message (what the emitter sends) still gets through, and the client got nothing else.
        var good = MsgPack.Build(w =>
        {
            w.ArrayHeader(3);
            w.String("emitter");
            w.MapHeader(3); w.String("type"); w.Int(2); w.String("data"); w.ArrayHeader(2); w.String("fine"); w.Int(1); w.String("nsp"); w.String("/");
            w.MapHeader(2); w.String("rooms"); w.ArrayHeader(1); w.String("r"); w.String("except"); w.ArrayHeader(0);
        });
        await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#r#"), good);
        Assert.Equal(["fine"], await onA.EventsUntilAsync("fine", Wait));
        Assert.False(a.Process.HasExited);
    }
}
