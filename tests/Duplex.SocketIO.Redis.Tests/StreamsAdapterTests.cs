using System.Text.Json;
using Duplex.SocketIO.Redis.Tests.Infrastructure;
using StackExchange.Redis;
using ClusterNode = Duplex.SocketIO.Redis.Tests.Infrastructure.ClusterNode;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>
/// The Redis streams adapter against the real thing: a real redis-server, Duplex nodes as processes
/// (examples/SocketIORedisNode --adapter streams) and Node nodes with @socket.io/redis-streams-adapter 0.3.1
/// (tests/peers-socketio-redis/server.js streams), the npm socket.io-client as the clients.
/// </summary>
[Collection("cluster")]
public class StreamsAdapterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly string[] Streams = ["--adapter", "streams"];

    [Fact]
    public async Task A_Duplex_and_a_Node_streams_node_share_broadcasts_rooms_fetches_and_acks_both_ways()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var n = await ClusterNode.StartNodeAsync(redis, "N", "streams");
        await a.WaitForServerCountAsync(2);
        await n.WaitForServerCountAsync(2);
        await using var alice = await SioClient.ConnectAsync(a, "alice", "r");
        await using var nina = await SioClient.ConnectAsync(n, "nina", "r");

        // Broadcasts both ways, to a room; one to a room nina is not in does not reach her.
        await a.GetAsync("/ctl/emit?room=elsewhere&event=not-for-nina&text=x");
        await a.GetAsync("/ctl/emit?room=r&event=from-a&text=hello-nina");
        Assert.Equal(["from-a"], await nina.EventsUntilAsync("from-a", Wait));
        await n.GetAsync("/ctl/emit?room=r&event=from-n&text=hello-alice");
        var fromN = await alice.NextEventAsync("from-n", timeout: Wait);
        Assert.Equal("hello-alice", fromN[0].GetProperty("text").GetString());
        Assert.Equal("N", fromN[0].GetProperty("node").GetString());

        // Binary parts cross as bytes (the stream entry's data is then base64 MessagePack), both ways.
        await n.GetAsync("/ctl/emit?room=r&event=bin-n&binary=1");
        var binN = await alice.NextEventAsync("bin-n", timeout: Wait);
        Assert.Equal([1, 2, 3, 250], binN[0].GetProperty("bytes").GetProperty("data").EnumerateArray().Select(x => x.GetInt32()));
        await a.GetAsync("/ctl/emit?room=r&event=bin-a&binary=1");
        var binA = await nina.NextEventAsync("bin-a", timeout: Wait);
        Assert.Equal([1, 2, 3, 250], binA[0].GetProperty("bytes").GetProperty("data").EnumerateArray().Select(x => x.GetInt32()));

        // fetchSockets from each side sees both sockets, the other's with its rooms and data.
        var fetchedOnA = (await a.GetAsync("/ctl/fetch?room=r")).GetProperty("sockets").EnumerateArray().ToList();
        Assert.Equal(new[] { alice.Id, nina.Id }.Order(), fetchedOnA.Select(s => s.GetProperty("id").GetString()).Order());
        var ninaSeenFromA = fetchedOnA.Single(s => s.GetProperty("id").GetString() == nina.Id);
        Assert.False(ninaSeenFromA.GetProperty("local").GetBoolean());
        Assert.Equal("N", ninaSeenFromA.GetProperty("data").GetProperty("node").GetString());
        Assert.Contains("r", ninaSeenFromA.GetProperty("rooms").EnumerateArray().Select(x => x.GetString()));
        var fetchedOnN = (await n.GetAsync("/ctl/fetch?room=r")).GetProperty("sockets").EnumerateArray().ToList();
        Assert.Equal("A", fetchedOnN.Single(s => s.GetProperty("id").GetString() == alice.Id).GetProperty("data").GetProperty("node").GetString());

        // socketsJoin from the Node node reaches alice on A (a stream entry); a broadcast to that room then reaches her.
        await n.GetAsync("/ctl/join?room=r&rooms=vip");
        await DuplexClusterTests.WaitUntilAsync(async () => (await a.GetAsync("/ctl/fetch?room=vip")).GetProperty("sockets").EnumerateArray()
            .Any(s => s.GetProperty("id").GetString() == alice.Id && s.GetProperty("local").GetBoolean()), Wait);
        await n.GetAsync("/ctl/emit?room=vip&event=for-vips&text=welcome");
        Assert.Equal("welcome", (await alice.NextEventAsync("for-vips", timeout: Wait))[0].GetProperty("text").GetString());
        // and from Duplex to Node: socketsLeave, then a broadcast to vip from A reaches alice only.
        await a.GetAsync("/ctl/leave?room=vip&rooms=vip&except=" + alice.Id);
        await DuplexClusterTests.WaitUntilAsync(async () => (await n.GetAsync("/ctl/fetch?room=vip")).GetProperty("sockets").GetArrayLength() == 1, Wait);

        // Broadcasts with acks gather both clients' answers, from either side.
        foreach (var node in new[] { a, n })
        {
            var acks = await node.GetAsync("/ctl/emit-ack?room=r&event=question&timeoutMs=10000");
            Assert.False(acks.TryGetProperty("timeout", out _), acks.ToString());
            Assert.Equal(new[] { "alice", "nina" }, acks.GetProperty("answers").EnumerateArray().Select(x => x.GetProperty("answer").GetString()).Order());
        }

        // Server-side emits with acks: each side gets the other's answer.
        var sseFromA = (await a.GetAsync("/ctl/sse")).GetProperty("responses");
        Assert.Equal("N", sseFromA.EnumerateArray().Single().GetProperty("node").GetString());
        Assert.Equal("A", sseFromA[0].GetProperty("got").GetString());
        var sseFromN = (await n.GetAsync("/ctl/sse")).GetProperty("responses");
        Assert.Equal("A", sseFromN.EnumerateArray().Single().GetProperty("node").GetString());
        Assert.Equal("N", sseFromN[0].GetProperty("got").GetString());

        // disconnectSockets from A reaches nina on the Node node.
        await a.GetAsync("/ctl/disconnect?room=r&except=" + alice.Id);
        Assert.Equal("io server disconnect", (await nina.Process.WaitForStepAsync("disconnect", timeout: Wait)).GetProperty("reason").GetString());
        Assert.Equal(0, await a.CounterAsync("duplex.socketio.redis.errors:malformed"));
    }

    [Fact]
    public async Task Duplex_writes_the_same_stream_entry_as_the_Node_adapter_for_the_same_broadcast()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var n = await ClusterNode.StartNodeAsync(redis, "N", "streams");
        await a.WaitForServerCountAsync(2);
        await a.GetAsync("/ctl/emit?room=r&except=x&event=news&text=caf%C3%A9+%3C%26%3E+%22q%22");
        await n.GetAsync("/ctl/emit?room=r&except=x&event=news&text=caf%C3%A9+%3C%26%3E+%22q%22");
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        StreamEntry[] entries = [];
        await DuplexClusterTests.WaitUntilAsync(async () => (entries = await mux.GetDatabase().StreamRangeAsync("socket.io")).Length == 2, Wait);

        // Same fields in the same order; uid differs (16 hex digits each), the rest is identical but the node's name.
        var duplex = entries.Single(e => e.Values.First(v => v.Name == "data").Value.ToString().Contains("\"node\":\"A\""));
        var node = entries.Single(e => e.Id != duplex.Id);
        Assert.Equal(node.Values.Select(v => (string)v.Name!), duplex.Values.Select(v => (string)v.Name!));
        Assert.Equal(["uid", "nsp", "type", "data"], duplex.Values.Select(v => (string)v.Name!));
        Assert.Matches("^[0-9a-f]{16}$", (string)duplex["uid"]!);
        Assert.Matches("^[0-9a-f]{16}$", (string)node["uid"]!);
        Assert.Equal((string)node["type"]!, (string)duplex["type"]!);
        Assert.Equal("3", (string)duplex["type"]!);
        Assert.Equal(((string)node["data"]!).Replace("\"node\":\"N\"", "\"node\":\"A\""), (string)duplex["data"]!);
        Assert.Equal("""{"packet":{"type":2,"data":["news",{"node":"A","text":"café <&> \"q\""}]},"opts":{"rooms":["r"],"except":["x"],"flags":{}}}""",
            (string)duplex["data"]!);
    }

    [Fact]
    public async Task Duplex_publishes_the_same_pubsub_requests_and_answers_as_the_Node_adapter()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "NODE-A", Streams);
        await using var n = await ClusterNode.StartNodeAsync(redis, "NODE-N", "streams");
        await a.WaitForServerCountAsync(2);
        await n.WaitForServerCountAsync(2);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var captured = new System.Collections.Concurrent.ConcurrentQueue<(string Channel, byte[] Payload)>();
        var queue = await mux.GetSubscriber().SubscribeAsync(RedisChannel.Pattern("socket.io#/#*"));
        queue.OnMessage(m => captured.Enqueue((m.Channel.ToString(), (byte[])m.Message!)));

        // Each side asks the other (server-side emit with ack, fetchSockets) and answers it.
        Assert.Equal(1, (await a.GetAsync("/ctl/sse")).GetProperty("responses").GetArrayLength());
        Assert.Equal(1, (await n.GetAsync("/ctl/sse")).GetProperty("responses").GetArrayLength());
        await a.GetAsync("/ctl/fetch?room=r");
        await n.GetAsync("/ctl/fetch?room=r");
        await DuplexClusterTests.WaitUntilAsync(() => Task.FromResult(captured.Count >= 8), Wait);

        var messages = captured.Select(c => (c.Channel, c.Payload, Json: MsgPack.ToJson(c.Payload, []))).ToList();
        string Uid(string node) => messages.First(m => m.Json.GetProperty("type").GetInt32() == 9
            && m.Json.GetProperty("data").GetProperty("packet")[1].GetString() == node).Json.GetProperty("uid").GetString()!;
        string uidA = Uid("NODE-A"), uidN = Uid("NODE-N");
        Assert.Matches("^[0-9a-f]{16}$", uidA);
        Assert.Matches("^[0-9a-f]{16}$", uidN);
        foreach (int type in new[] { 9, 7, 10, 8 })
        {
            var fromA = messages.Single(m => m.Json.GetProperty("type").GetInt32() == type && m.Json.GetProperty("uid").GetString() == uidA);
            var fromN = messages.Single(m => m.Json.GetProperty("type").GetInt32() == type && m.Json.GetProperty("uid").GetString() == uidN);
            // Requests go to the public channel, answers to the requester's own.
            Assert.Equal(type is 9 or 7 ? "socket.io#/#" : $"socket.io#/#{uidN}#", fromA.Channel);
            Assert.Equal(type is 9 or 7 ? "socket.io#/#" : $"socket.io#/#{uidA}#", fromN.Channel);
            // The same bytes once uids, request ids and node names are swapped (all the same length).
            var expected = Swap(fromN.Payload, (uidN, uidA), (RequestId(fromN.Json), RequestId(fromA.Json)), ("NODE-N", "NODE-X"), ("NODE-A", "NODE-N"), ("NODE-X", "NODE-A"));
            if (type == 8) continue; // fetch answers describe different sockets (none here) with handshakes of their own
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(fromA.Payload));
        }
        var fetchAnswer = messages.Single(m => m.Json.GetProperty("type").GetInt32() == 8 && m.Json.GetProperty("uid").GetString() == uidA).Json;
        Assert.Equal(["requestId", "sockets"], fetchAnswer.GetProperty("data").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["type", "data", "uid", "nsp"], fetchAnswer.EnumerateObject().Select(p => p.Name));
    }

    private static string RequestId(JsonElement message) => message.GetProperty("data").GetProperty("requestId").GetString()!;

    private static byte[] Swap(byte[] payload, params (string From, string To)[] swaps)
    {
        var text = System.Text.Encoding.Latin1.GetString(payload);
        foreach (var (from, to) in swaps)
        {
            Assert.Equal(from.Length, to.Length);
            text = text.Replace(from, to, StringComparison.Ordinal);
        }
        return System.Text.Encoding.Latin1.GetBytes(text);
    }

    [Fact]
    public async Task Redis_stopped_for_seconds_under_200_broadcasts_per_second_every_client_gets_every_broadcast_once()
    {
        await using var redis = await RedisServer.StartAsync(persistent: true);
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B", Streams);
        await a.WaitForServerCountAsync(2);
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var onB = await SioClient.ConnectAsync(b, "bob", "r");

        // 1,000 broadcasts from B at 200/s (5 s); Redis goes away 1 s in, for 3 s.
        const int count = 1000;
        var sending = b.GetAsync($"/ctl/bench?room=r&count={count}&perSecond=200");
        await Task.Delay(1000);
        await redis.StopAsync();
        await DuplexClusterTests.WaitUntilAsync(async () => await b.CounterAsync("duplex.socketio.redis.stream.held") > 0, Wait);
        await Task.Delay(3000);
        await redis.RestartAsync();
        Assert.Equal(count, (await sending).GetProperty("sent").GetInt32());

        // Each client gets every tick exactly once, in order: bob from B itself, alice through the stream.
        foreach (var client in new[] { onA, onB })
        {
            var ticks = new List<int>();
            await client.Process.WaitForLineAsync(line =>
            {
                if (!line.Contains("\"step\":\"tick\"")) return false;
                using var doc = JsonDocument.Parse(line);
                ticks.Add(doc.RootElement.GetProperty("n").GetInt32());
                return ticks.Count == count;
            }, TimeSpan.FromSeconds(60));
            Assert.Equal(Enumerable.Range(0, count), ticks);
        }
        await Task.Delay(500); // nothing more comes: no tick was added twice
        Assert.DoesNotContain(onA.Process.Drain(), l => l.Contains("\"step\":\"tick\""));

        // B held what it could not add, and nothing was trimmed or dropped; A's reader saw the outage.
        long held = await b.CounterAsync("duplex.socketio.redis.stream.held");
        Assert.InRange(held, 1, count);
        Assert.Equal(0, await b.CounterAsync("duplex.socketio.redis.errors:buffer-full"));
        Assert.Equal(0, await a.CounterAsync("duplex.socketio.redis.errors:stream-trimmed"));
        Assert.True(await a.CounterAsync("duplex.socketio.redis.errors:connection") > 0);
        Assert.Contains("entries held meanwhile were added", b.Process.Transcript);
        Assert.Contains("reading stream socket.io again", a.Process.Transcript);
    }

    [Fact]
    public async Task Entries_held_during_an_outage_are_still_added_when_the_server_closes_right_after_Redis_is_back()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = ConfigurationOptions.Parse(redis.Address);
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ReconnectRetryPolicy = new LinearRetry(200);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        var io = new SocketIOServer();
        io.UseRedisStreamsAdapter(mux, o => o.RequestsTimeout = TimeSpan.FromSeconds(15));
        await io.AdaptersReady.WaitAsync(Wait);

        await redis.StopAsync();
        await DuplexClusterTests.WaitUntilAsync(() => Task.FromResult(!mux.IsConnected), Wait);
        for (int i = 0; i < 50; i++) await io.Sockets.EmitAsync("held", i);
        await redis.RestartAsync();
        await io.CloseAsync(); // the writer adds what it holds before it stops

        await using var check = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var entries = await check.GetDatabase().StreamRangeAsync("socket.io");
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"[\"held\",{i}]"),
            entries.Select(e => JsonDocument.Parse((string)e["data"]!).RootElement.GetProperty("packet").GetProperty("data").GetRawText()));
    }

    [Fact]
    public async Task Entries_trimmed_before_a_node_read_them_are_counted_and_logged()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var db = mux.GetDatabase();
        await db.StreamAddAsync("socket.io", [new("uid", "other"), new("nsp", "/nowhere"), new("type", "3"), new("data", "{}")]);
        await Task.Delay(500); // A has read it: its last id is that entry's
        // A is frozen while another writer fills the stream well past a small bound: MAXLEN 10 (exact) leaves
        // the last 10 of 500, so 490 entries after A's last id are gone before A reads them.
        await a.Process.SignalAsync("STOP");
        try
        {
            for (int i = 0; i < 500; i++)
                await db.StreamAddAsync("socket.io", [new("uid", "other"), new("nsp", "/nowhere"), new("type", "3"), new("data", "{}")], maxLength: 10);
            await Task.Delay(1200);
        }
        finally
        {
            await a.Process.SignalAsync("CONT");
        }
        try
        {
            await DuplexClusterTests.WaitUntilAsync(async () => await a.CounterAsync("duplex.socketio.redis.errors:stream-trimmed") > 0, TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            Assert.Fail("no trimming counted; metrics " + await a.GetAsync("/ctl/metrics") + "\n" + a.Process.Transcript);
        }
        // Exactly the trimmed ones: entries-added − length moved from 0 to 491, A had read the first.
        Assert.Equal(490, await a.CounterAsync("duplex.socketio.redis.errors:stream-trimmed"));
        Assert.Contains("was trimmed past this node's last id", a.Process.Transcript);
    }

    [Fact]
    public async Task Malformed_stream_entries_and_pubsub_messages_are_counted_and_skipped()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var db = mux.GetDatabase();
        NameValueEntry[] Entry(string type, string data) => [new("uid", "other"), new("nsp", "/"), new("type", type), new("data", data)];
        NameValueEntry[][] garbage =
        [
            Entry("three", "{}"),                                   // type is not a number
            Entry("3", "{not json"),                                // data is neither JSON …
            Entry("3", "!!not base64!!"),                           // … nor base64
            Entry("3", Convert.ToBase64String([0xc1])),             // nor MessagePack
            Entry("3", """{"packet":{"type":0,"data":null},"opts":{"rooms":[],"except":[]}}"""), // a CONNECT, not an event
            Entry("3", """{"packet":{"type":2,"data":[]},"opts":{"rooms":[],"except":[]}}"""),   // an event without a name
        ];
        foreach (var entry in garbage) await db.StreamAddAsync("socket.io", entry);
        await db.StreamAddAsync("socket.io", [new("uid", "other"), new("type", "3")]); // no namespace: skipped, as Node does
        var publisher = mux.GetSubscriber();
        await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#"), new byte[] { 0xc1 });
        await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#"), MsgPack.Build(w => { w.MapHeader(1); w.String("type"); w.String("x"); }));
        await publisher.PublishAsync(RedisChannel.Literal("socket.io#/#"), MsgPack.Build(w =>
        {
            w.MapHeader(4); w.String("type"); w.Int(9); w.String("data"); w.MapHeader(1); w.String("packet"); w.String("not-an-array");
            w.String("uid"); w.String("other"); w.String("nsp"); w.String("/");
        }));
        await DuplexClusterTests.WaitUntilAsync(async () => await a.CounterAsync("duplex.socketio.redis.errors:malformed") >= 9, Wait);

        // A well-formed entry still gets through, and the client got nothing before it.
        await db.StreamAddAsync("socket.io", Entry("3", """{"packet":{"type":2,"data":["fine",1]},"opts":{"rooms":["r"],"except":[],"flags":{}}}"""));
        Assert.Equal(["fine"], await onA.EventsUntilAsync("fine", Wait));
        Assert.Equal(9, await a.CounterAsync("duplex.socketio.redis.errors:malformed"));
        Assert.False(a.Process.HasExited);
    }

    [Fact]
    public async Task A_stream_key_of_the_wrong_type_holds_entries_until_it_is_a_stream_again()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", Streams);
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B", Streams);
        await a.WaitForServerCountAsync(2);
        await using var onA = await SioClient.ConnectAsync(a, "alice", "r");
        await b.GetAsync("/ctl/emit?room=r&event=before&text=0");
        await onA.NextEventAsync("before", timeout: Wait);

        // Someone overwrites the stream's key with a string: XADD and XREAD answer WRONGTYPE.
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var db = mux.GetDatabase();
        await db.KeyDeleteAsync("socket.io");
        await db.StringSetAsync("socket.io", "not a stream");
        for (int i = 1; i <= 3; i++) await b.GetAsync($"/ctl/emit?room=r&event=during&text={i}");
        await DuplexClusterTests.WaitUntilAsync(async () => await b.CounterAsync("duplex.socketio.redis.stream.held") >= 3, Wait);
        await DuplexClusterTests.WaitUntilAsync(async () => await a.CounterAsync("duplex.socketio.redis.errors:connection") > 0, Wait);
        Assert.Contains("cannot add to stream socket.io", b.Process.Transcript);

        // The key is freed: B adds what it held, in order, and A reads it.
        await db.KeyDeleteAsync("socket.io");
        var texts = new List<string>();
        for (int i = 0; i < 3; i++) texts.Add((await onA.NextEventAsync("during", timeout: Wait))[0].GetProperty("text").GetString()!);
        Assert.Equal(["1", "2", "3"], texts);
        Assert.False(a.Process.HasExited);
        Assert.False(b.Process.HasExited);
    }

    /// <summary>Where the client first connects, and where it comes back: Duplex to Duplex, Duplex to Node, Node to Duplex.</summary>
    public static TheoryData<string, string> RecoveryPaths => new() { { "duplex", "duplex" }, { "duplex", "node" }, { "node", "duplex" } };

    private static Task<ClusterNode> StartRecoveringAsync(RedisServer redis, string kind, string name) => kind == "duplex"
        ? ClusterNode.StartDuplexAsync(redis, name, [.. Streams, "--recovery"])
        : ClusterNode.StartNodeAsync(redis, name, "streams", "recovery");

    [Theory]
    [MemberData(nameof(RecoveryPaths))]
    public async Task A_client_that_drops_on_one_node_recovers_on_another_with_its_id_rooms_data_and_missed_packets(string first, string target)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartRecoveringAsync(redis, first, "A");
        await using var b = await StartRecoveringAsync(redis, target, "B");
        await a.WaitForServerCountAsync(2);
        Peers.RequireNodeModules();
        await using var client = ChildProcess.Start("node", Peers.NodeDirectory, "recovery.js", a.Url);
        var connected = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.False(connected.GetProperty("recovered").GetBoolean());
        string id = connected.GetProperty("id").GetString()!;
        await client.WaitForStepAsync("joined", timeout: Wait);

        // A broadcast from the other node reaches it with its stream id as the offset.
        await b.GetAsync("/ctl/emit?room=r&event=before&text=0");
        var before = await client.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "before", Wait);
        Assert.Matches("^[0-9]+-[0-9]+$", before.GetProperty("args")[1].GetString()!);

        await client.WriteLineAsync("close");
        await client.WaitForStepAsync("closed", timeout: Wait);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var db = mux.GetDatabase();
        await DuplexClusterTests.WaitUntilAsync(async () => ((RedisResult[])(await db.ExecuteAsync("KEYS", "sio:session:*"))!).Length == 1, Wait);

        // Missed while away: from both nodes to its room, one to its own id, and two that are not for it.
        await a.GetAsync("/ctl/emit?room=r&event=missed&text=1");
        await b.GetAsync("/ctl/emit?room=r&event=missed&text=2");
        await a.GetAsync($"/ctl/emit?room={id}&event=missed&text=3");
        await b.GetAsync("/ctl/emit?room=elsewhere&event=not-for-you&text=x");
        await a.GetAsync("/ctl/emit?except=r&event=not-for-you&text=y");
        await DuplexClusterTests.WaitUntilAsync(async () => await db.StreamLengthAsync("socket.io") >= 6, Wait);

        // The missed packets in order, each with its offset (a Node server sends them before its CONNECT answer,
        // which the client then hands out before "connect"; Duplex after it); then a new one to its room (rooms are back).
        await client.WriteLineAsync("reconnect " + b.Url);
        var seen = new List<(string Event, string Text, string Offset)>();
        JsonElement again = default;
        bool Collect(string line)
        {
            if (!line.StartsWith('{')) return false;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            switch (root.GetProperty("step").GetString())
            {
                case "connected":
                    again = root.Clone();
                    return true;
                case "event":
                    var args = root.GetProperty("args");
                    seen.Add((root.GetProperty("event").GetString()!, args[0].GetProperty("text").GetString()!, args[1].GetString()!));
                    return seen[^1].Event == "after";
            }
            return false;
        }
        await client.WaitForLineAsync(Collect, Wait);
        Assert.True(again.GetProperty("recovered").GetBoolean(), client.Transcript);
        Assert.Equal(id, again.GetProperty("id").GetString());
        await b.GetAsync("/ctl/emit?room=r&event=after&text=4");
        await client.WaitForLineAsync(Collect, Wait);
        Assert.Equal([("missed", "1"), ("missed", "2"), ("missed", "3"), ("after", "4")], seen.Select(s => (s.Event, s.Text)));
        Assert.True(seen.Zip(seen.Skip(1)).All(p => RedisStream.CompareIds(p.First.Offset, p.Second.Offset) < 0), string.Join(",", seen));

        // On B it is the same socket: its room and the data it got on A.
        var onB = (await b.GetAsync("/ctl/fetch?room=r")).GetProperty("sockets").EnumerateArray().Single();
        Assert.Equal(id, onB.GetProperty("id").GetString());
        Assert.True(onB.GetProperty("local").GetBoolean());
        Assert.Equal("A", onB.GetProperty("data").GetProperty("node").GetString());
        // The session was handed out once: it is gone from Redis.
        Assert.Empty((RedisResult[])(await db.ExecuteAsync("KEYS", "sio:session:*"))!);
    }

    [Fact]
    public async Task A_client_whose_offset_was_trimmed_connects_afresh()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await ClusterNode.StartDuplexAsync(redis, "A", [.. Streams, "--recovery"]);
        await using var b = await ClusterNode.StartDuplexAsync(redis, "B", [.. Streams, "--recovery"]);
        await a.WaitForServerCountAsync(2);
        await using var client = ChildProcess.Start("node", Peers.NodeDirectory, "recovery.js", a.Url);
        string id = (await client.WaitForStepAsync("connected", timeout: Wait)).GetProperty("id").GetString()!;
        await client.WaitForStepAsync("joined", timeout: Wait);
        await a.GetAsync("/ctl/emit?room=r&event=before&text=0");
        await client.WaitForStepAsync("event", e => e.GetProperty("event").GetString() == "before", Wait);
        await client.WriteLineAsync("close");
        await client.WaitForStepAsync("closed", timeout: Wait);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var db = mux.GetDatabase();
        await DuplexClusterTests.WaitUntilAsync(async () => ((RedisResult[])(await db.ExecuteAsync("KEYS", "sio:session:*"))!).Length == 1, Wait);
        await db.StreamTrimAsync("socket.io", 0); // the offset is gone from the stream

        await client.WriteLineAsync("reconnect " + b.Url);
        var again = await client.WaitForStepAsync("connected", timeout: Wait);
        Assert.False(again.GetProperty("recovered").GetBoolean());
        Assert.NotEqual(id, again.GetProperty("id").GetString());
    }
}
