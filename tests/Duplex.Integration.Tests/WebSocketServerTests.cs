using Duplex.Protocol;
using Duplex.Server;

namespace Duplex.Integration.Tests;

public class WebSocketServerTests
{
    private static async Task<string> ReceiveTextAsync(WebSocketConnection c)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var m in c.ReadMessagesAsync(cts.Token)) return m.Text;
        throw new InvalidOperationException($"closed ({c.CloseStatus}) before a message arrived");
    }

    [Fact]
    public async Task Standalone_server_runs_handlers_per_path_and_closes_with_1001_on_stop()
    {
        var server = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = 0 });
        server.Map("/upper", async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendTextAsync(m.Text.ToUpperInvariant());
        });
        server.OnConnection(async c =>
        {
            await foreach (var m in c.ReadMessagesAsync()) await c.SendTextAsync("other: " + m.Text);
        });
        await server.StartAsync();
        var upper = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/upper"));
        var other = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/anything/else"));
        await upper.SendTextAsync("shout");
        await other.SendTextAsync("hi");
        Assert.Equal("SHOUT", await ReceiveTextAsync(upper));
        Assert.Equal("other: hi", await ReceiveTextAsync(other));
        Assert.Equal(2, server.Connections.Count);

        await server.StopAsync();
        await Task.WhenAll(upper.Completion, other.Completion).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(CloseStatus.GoingAway, upper.CloseStatus);
        Assert.Equal(CloseStatus.GoingAway, other.CloseStatus);
    }

    /// <summary>
    /// A server where every connection (on <paramref name="path"/>, or on any path when null) joins the group
    /// "room" and broadcasts to it what it sends, with that many members connected and in the group.
    /// </summary>
    private static async Task<(WebSocketServer Server, ConnectionGroup Room, List<WebSocketConnection> Members)> StartRoomAsync(string? path, int members)
    {
        var server = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = 0 });
        var room = server.Connections["room"];
        async Task Join(WebSocketConnection c)
        {
            room.Add(c);
            await foreach (var m in c.ReadMessagesAsync()) await room.BroadcastAsync(m.Data, m.Type);
        }
        if (path is null) server.OnConnection(Join);
        else server.Map(path, Join);
        await server.StartAsync();
        var connected = new List<WebSocketConnection>();
        for (int i = 0; i < members; i++) connected.Add(await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}{path ?? "/"}")));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (room.Count < members && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(members, room.Count);
        return (server, room, connected);
    }

    [Fact]
    public async Task Group_broadcast_reaches_every_member_and_members_leave_when_they_close()
    {
        var (server, lobby, clients) = await StartRoomAsync(path: null, members: 5);
        await using var stopping = server;

        await clients[0].SendTextAsync("to all");
        foreach (var c in clients) Assert.Equal("to all", await ReceiveTextAsync(c));

        await clients[4].CloseAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (lobby.Count > 4 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(4, lobby.Count);
        Assert.Equal(4, server.Connections.Count); // it left the registry too
        Assert.Equal(4, await lobby.BroadcastTextAsync("after"));
        foreach (var c in clients.Take(4)) Assert.Equal("after", await ReceiveTextAsync(c));
    }

    [Fact]
    public async Task Broadcasts_of_many_sizes_in_a_burst_reach_every_member_intact_and_in_order_also_one_that_reads_late()
    {
        // WebSocketServer serves upgrades on the fast path over Duplex's socket transport, where a broadcast
        // frame goes to each socket by reference: a burst of broadcasts lands in one read batch, so each
        // recipient gets several shared frames in one write, and a member that reads late keeps them
        // waiting in the transport's send loop.
        // A literal path: the fast path serves it.
        var (server, _, members) = await StartRoomAsync(path: "/room", members: 4);
        await using var stopping = server;

        var rng = new Random(21);
        var sent = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            var payload = new byte[rng.Next(1, 16 * 1024)];
            rng.NextBytes(payload);
            sent.Add(payload);
        }
        async Task<List<byte[]>> ReceiveAllAsync(WebSocketConnection member, TimeSpan lateBy)
        {
            await Task.Delay(lateBy);
            var got = new List<byte[]>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await foreach (var m in member.ReadMessagesAsync(cts.Token))
            {
                got.Add(m.ToArray());
                if (got.Count == sent.Count) break;
            }
            return got;
        }
        var receiving = members.Select((m, i) => ReceiveAllAsync(m, TimeSpan.FromMilliseconds(i == 3 ? 500 : 0))).ToArray();
        foreach (var payload in sent) await members[0].SendBinaryAsync(payload);

        foreach (var got in await Task.WhenAll(receiving).WaitAsync(TimeSpan.FromSeconds(40)))
        {
            Assert.Equal(sent.Count, got.Count);
            for (int i = 0; i < sent.Count; i++) Assert.True(sent[i].AsSpan().SequenceEqual(got[i]), $"message {i} differs");
        }
    }
}

public class HandshakeTimeoutTests
{
    [Fact]
    public async Task A_client_that_never_finishes_its_upgrade_request_is_dropped_after_the_handshake_timeout()
    {
        await using var server = new WebSocketServer(new WebSocketServerOptions { Host = "127.0.0.1", Port = 0, HandshakeTimeout = TimeSpan.FromSeconds(1) });
        server.OnConnection(_ => Task.CompletedTask);
        await server.StartAsync();
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"u8.ToArray()); // and never the rest
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int n;
        while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) { } // Kestrel may answer 408 first; then it closes
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(15));
    }
}
