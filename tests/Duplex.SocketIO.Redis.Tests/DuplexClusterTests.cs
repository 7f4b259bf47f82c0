using System.Diagnostics;
using System.Text.Json;
using Duplex.SocketIO.Redis.Tests.Infrastructure;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>Two Duplex servers (separate processes) on one real Redis, with npm socket.io-clients on each.</summary>
[Collection("cluster")]
public class DuplexClusterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Rooms_broadcasts_fetches_joins_acks_and_server_side_emits_span_both_nodes()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A");
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B");
        await a.WaitForServerCountAsync(2);
        await using var inRoomOnA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var elsewhereOnA = await SioClient.ConnectAsync(a, "carol", "other");
        await using var inRoomOnB = await SioClient.ConnectAsync(b, "bob", "r");

        // A client on B speaks to room r: the member on A hears it, with B's name on it.
        await inRoomOnB.EmitAsync("say", "r", "hello r");
        var said = await inRoomOnA.NextEventAsync("said", timeout: Wait);
        Assert.Equal("hello r", said[0].GetProperty("text").GetString());
        Assert.Equal("B", said[0].GetProperty("node").GetString());
        Assert.Equal("bob", said[0].GetProperty("from").GetString());

        // Nothing sent to r reached the socket in another room: B's later broadcast to everyone is the
        // marker (one publisher, one subscriber connection: Redis keeps them in order).
        await b.GetAsync("/ctl/emit?room=nobody-here&event=stray");
        await b.GetAsync("/ctl/emit?event=marker");
        var seenElsewhere = await elsewhereOnA.EventsUntilAsync("marker", Wait);
        Assert.Equal(["marker"], seenElsewhere);
        var seenInRoom = await inRoomOnA.EventsUntilAsync("marker", Wait);
        Assert.Equal(["marker"], seenInRoom); // not "stray": that room has nobody

        // Binary travels as binary across nodes.
        await b.GetAsync("/ctl/emit?room=r&event=bytes&binary=1");
        var bytes = await inRoomOnA.NextEventAsync("bytes", timeout: Wait);
        Assert.Equal([1, 2, 3, 250], bytes[0].GetProperty("bytes").GetProperty("data").EnumerateArray().Select(x => x.GetInt32()));

        // FetchSockets from either node sees the sockets of both, with their rooms and data.
        foreach (var node in new[] { a, b })
        {
            var fetched = (await node.GetAsync("/ctl/fetch")).GetProperty("sockets").EnumerateArray().ToList();
            Assert.Equal(3, fetched.Count);
            var bob = fetched.Single(s => s.GetProperty("id").GetString() == inRoomOnB.Id);
            Assert.Equal(node == b, bob.GetProperty("local").GetBoolean());
            Assert.Contains("r", bob.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));
            Assert.Equal("B", bob.GetProperty("data").GetProperty("node").GetString());
            Assert.Equal("bob", bob.GetProperty("data").GetProperty("name").GetString());
            Assert.Equal("127.0.0.1", bob.GetProperty("address").GetString()?.Replace("::ffff:", ""));
            var inR = (await node.GetAsync("/ctl/fetch?room=r")).GetProperty("sockets").EnumerateArray().Select(s => s.GetProperty("id").GetString()).Order().ToList();
            Assert.Equal(new string?[] { inRoomOnA.Id, inRoomOnB.Id }.Order().ToList(), inR);
        }

        // SocketsJoin on A applies to B's socket; a broadcast to the new room reaches it.
        await a.GetAsync($"/ctl/join?room={inRoomOnB.Id}&rooms=vip");
        await WaitUntilAsync(async () => (await b.GetAsync("/ctl/fetch?room=vip")).GetProperty("sockets").GetArrayLength() == 1);
        await a.GetAsync("/ctl/emit?room=vip&event=for-vips&text=welcome");
        Assert.Equal("welcome", (await inRoomOnB.NextEventAsync("for-vips", timeout: Wait))[0].GetProperty("text").GetString());

        // A broadcast with acks from A gathers the answers of r's members on both nodes.
        var acks = await a.GetAsync("/ctl/emit-ack?room=r&event=question&timeoutMs=10000");
        Assert.False(acks.TryGetProperty("timeout", out _), acks.ToString());
        Assert.Equal(new[] { "alice", "bob" }, acks.GetProperty("answers").EnumerateArray().Select(x => x.GetProperty("answer").GetString()).Order());

        // Server-side emits: each node gets the other's acknowledgement.
        var fromA = await a.GetAsync("/ctl/sse?timeoutMs=10000");
        Assert.Equal("B", fromA.GetProperty("responses").EnumerateArray().Single().GetProperty("node").GetString());
        Assert.Equal("A", fromA.GetProperty("responses")[0].GetProperty("got").GetString());
        var fromB = await b.GetAsync("/ctl/sse?timeoutMs=10000");
        Assert.Equal("A", fromB.GetProperty("responses").EnumerateArray().Single().GetProperty("node").GetString());

        // DisconnectSockets from B reaches the socket on A.
        await b.GetAsync($"/ctl/disconnect?room={elsewhereOnA.Id}");
        await elsewhereOnA.Process.WaitForStepAsync("disconnect", e => e.GetProperty("reason").GetString() == "io server disconnect", Wait);
    }

    [Fact]
    public async Task When_a_node_is_killed_the_other_nodes_calls_complete_within_their_timeouts()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A");
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B");
        await a.WaitForServerCountAsync(2);
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var onB = await SioClient.ConnectAsync(b, "bob", "r");
        Assert.Equal(2, (await a.GetAsync("/ctl/fetch")).GetProperty("sockets").GetArrayLength());

        await b.KillAsync();

        // Right after the kill Redis may still count B (its socket not yet closed), so a request may wait
        // for B until the timeout; either way it completes, and never with B's part.
        var timeout = TimeSpan.FromSeconds(2);
        var bound = timeout + TimeSpan.FromSeconds(8); // generous: the machine is shared
        for (int round = 0; round < 3; round++)
        {
            var clock = Stopwatch.StartNew();
            var sse = await a.GetAsync($"/ctl/sse?timeoutMs={timeout.TotalMilliseconds}");
            Assert.True(clock.Elapsed < bound, $"server-side emit took {clock.Elapsed}");
            Assert.Empty(sse.GetProperty("responses").EnumerateArray());

            clock.Restart();
            var fetched = await a.GetAsync($"/ctl/fetch?timeoutMs={timeout.TotalMilliseconds}");
            Assert.True(clock.Elapsed < bound, $"fetch took {clock.Elapsed}");
            if (!fetched.TryGetProperty("timeout", out _))
                Assert.Equal(onA.Id, fetched.GetProperty("sockets").EnumerateArray().Single().GetProperty("id").GetString());

            clock.Restart();
            var acks = await a.GetAsync($"/ctl/emit-ack?room=r&event=question&timeoutMs={timeout.TotalMilliseconds}");
            Assert.True(clock.Elapsed < bound, $"broadcast with acks took {clock.Elapsed}");
            if (!acks.TryGetProperty("timeout", out _))
                Assert.Equal("alice", acks.GetProperty("answers").EnumerateArray().Single().GetProperty("answer").GetString());
        }

        // Once Redis has noticed, A counts itself alone and answers at once.
        await a.WaitForServerCountAsync(1);
        var alone = await a.GetAsync("/ctl/sse?timeoutMs=5000");
        Assert.False(alone.TryGetProperty("timeout", out _));
        Assert.True(alone.GetProperty("elapsedMs").GetInt64() < 5000);
        Assert.False(a.Process.HasExited);
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Wait);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in time");
            await Task.Delay(100);
        }
    }
}
