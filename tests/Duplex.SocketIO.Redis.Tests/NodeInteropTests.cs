using Duplex.SocketIO.Redis.Tests.Infrastructure;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>
/// A Duplex server and a Node socket.io 4.8 server with @socket.io/redis-adapter 8.3 on the same Redis,
/// and @socket.io/redis-emitter publishing from a process that is no server.
/// </summary>
[Collection("cluster")]
public class NodeInteropTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Duplex_and_node_servers_share_rooms_broadcasts_fetches_and_server_side_emits()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var duplex = await ClusterNode.StartDuplexAsync(redis, "D");
        await using var node = await ClusterNode.StartNodeAsync(redis, "N");
        await duplex.WaitForServerCountAsync(2);
        await node.WaitForServerCountAsync(2);
        await using var onDuplex = await SioClient.ConnectAsync(duplex, "dora", "r");
        await using var onNode = await SioClient.ConnectAsync(node, "nick", "r");
        await using var elsewhereOnNode = await SioClient.ConnectAsync(node, "olga", "other");

        // Duplex → Node: a room broadcast reaches r's member on the Node server, not the one in another room.
        await duplex.GetAsync("/ctl/emit?room=r&event=news&text=from-duplex");
        await duplex.GetAsync("/ctl/emit?event=marker");
        var news = await onNode.NextEventAsync("news", timeout: Wait);
        Assert.Equal("from-duplex", news[0].GetProperty("text").GetString());
        Assert.Equal("D", news[0].GetProperty("node").GetString());
        Assert.Equal(["marker"], await elsewhereOnNode.EventsUntilAsync("marker", Wait));

        // Node → Duplex: a room broadcast with binary, then one to everyone.
        await node.GetAsync("/ctl/emit?room=r&event=news&binary=1");
        var binary = await onDuplex.NextEventAsync("news", a => a[0].GetProperty("node").GetString() == "N", Wait);
        Assert.Equal([1, 2, 3, 250], binary[0].GetProperty("bytes").GetProperty("data").EnumerateArray().Select(x => x.GetInt32()));
        await node.GetAsync("/ctl/emit?event=to-all&text=everyone");
        Assert.Equal("everyone", (await onDuplex.NextEventAsync("to-all", timeout: Wait))[0].GetProperty("text").GetString());

        // Clients chatting through the room, both ways (socket.to(room) on each kind of server).
        await onNode.EmitAsync("say", "r", "hi from node");
        var heard = await onDuplex.NextEventAsync("said", timeout: Wait);
        Assert.Equal(("hi from node", "N", "nick"), (heard[0].GetProperty("text").GetString(), heard[0].GetProperty("node").GetString(), heard[0].GetProperty("from").GetString()));
        await onDuplex.EmitAsync("say", "r", "hi from duplex");
        var answered = await onNode.NextEventAsync("said", timeout: Wait);
        Assert.Equal(("hi from duplex", "D"), (answered[0].GetProperty("text").GetString(), answered[0].GetProperty("node").GetString()));

        // fetchSockets both ways: each sees the other's sockets with their rooms and data.
        var fromDuplex = (await duplex.GetAsync("/ctl/fetch")).GetProperty("sockets").EnumerateArray().ToList();
        Assert.Equal(3, fromDuplex.Count);
        var nick = fromDuplex.Single(s => s.GetProperty("id").GetString() == onNode.Id);
        Assert.False(nick.GetProperty("local").GetBoolean());
        Assert.Equal("N", nick.GetProperty("data").GetProperty("node").GetString());
        Assert.Contains("r", nick.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));
        var fromNode = (await node.GetAsync("/ctl/fetch?room=r")).GetProperty("sockets").EnumerateArray().ToList();
        Assert.Equal(2, fromNode.Count);
        var dora = fromNode.Single(s => s.GetProperty("id").GetString() == onDuplex.Id);
        Assert.Equal("D", dora.GetProperty("data").GetProperty("node").GetString());
        Assert.Equal("dora", dora.GetProperty("data").GetProperty("name").GetString());
        Assert.Contains("r", dora.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));

        // socketsJoin from Node reaches the Duplex socket.
        await node.GetAsync($"/ctl/join?room={onDuplex.Id}&rooms=vip");
        await DuplexClusterTests.WaitUntilAsync(async () => (await duplex.GetAsync("/ctl/fetch?room=vip")).GetProperty("sockets").GetArrayLength() == 1);

        // Server-side emits with acks, both ways.
        var duplexAsks = await duplex.GetAsync("/ctl/sse?timeoutMs=10000");
        Assert.Equal("N", duplexAsks.GetProperty("responses").EnumerateArray().Single().GetProperty("node").GetString());
        var nodeAsks = await node.GetAsync("/ctl/sse");
        Assert.Equal("D", nodeAsks.GetProperty("responses").EnumerateArray().Single().GetProperty("node").GetString());
        Assert.Equal("N", nodeAsks.GetProperty("responses")[0].GetProperty("got").GetString());

        // A broadcast with acks from Duplex gathers the answer of r's member on the Node server too.
        var acks = await duplex.GetAsync("/ctl/emit-ack?room=r&event=question&timeoutMs=10000");
        Assert.False(acks.TryGetProperty("timeout", out _), acks.ToString());
        Assert.Equal(new[] { "dora", "nick" }, acks.GetProperty("answers").EnumerateArray().Select(x => x.GetProperty("answer").GetString()).Order());

        // And from Node: its BROADCAST request reaches the Duplex client, whose answer comes back as Node expects.
        var nodeAcks = await node.GetAsync("/ctl/emit-ack?room=r&event=question&timeoutMs=10000");
        Assert.False(nodeAcks.TryGetProperty("timeout", out _), nodeAcks.ToString());
        Assert.Equal(new[] { "dora", "nick" }, nodeAcks.GetProperty("answers").EnumerateArray().Select(x => x.GetProperty("answer").GetString()).Order());
        Assert.Equal("N", nodeAcks.GetProperty("answers")[0].GetProperty("from").GetString());
    }

    [Fact]
    public async Task The_redis_emitter_reaches_duplex_clients_with_binary_and_makes_them_join_rooms()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var duplex = await ClusterNode.StartDuplexAsync(redis, "D");
        await using var inRoom = await SioClient.ConnectAsync(duplex, "dora", "r");
        await using var elsewhere = await SioClient.ConnectAsync(duplex, "eve", "other");

        await using (var emitter = ChildProcess.Start("node", Peers.NodeDirectory, "emitter.js", redis.Port.ToString(), "r", "from-emitter", "hello"))
            await emitter.WaitForStepAsync("done", timeout: Wait);
        var got = await inRoom.NextEventAsync("from-emitter", timeout: Wait);
        Assert.Equal("emitter", got[0].GetProperty("from").GetString());
        Assert.Equal("hello", got[0].GetProperty("text").GetString());
        Assert.Equal([9, 8, 7], got[0].GetProperty("bytes").GetProperty("data").EnumerateArray().Select(x => x.GetInt32()));
        // The emitter's socketsJoin (sent after its emit) put r's member in a new room.
        await DuplexClusterTests.WaitUntilAsync(async () =>
            (await duplex.GetAsync("/ctl/fetch?room=joined-by-emitter")).GetProperty("sockets").EnumerateArray().Select(s => s.GetProperty("id").GetString()).SequenceEqual([inRoom.Id]));

        // The socket in another room got nothing from the emitter.
        await duplex.GetAsync("/ctl/emit?event=marker");
        Assert.Equal(["marker"], await elsewhere.EventsUntilAsync("marker", Wait));
    }
}
