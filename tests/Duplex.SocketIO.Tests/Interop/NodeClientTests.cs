using System.Collections.Concurrent;
using System.Text.Json;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Interop;

/// <summary>The npm socket.io-client (4.8.x, in node) against the Duplex server.</summary>
public sealed class NodeClientTests
{
    private static async Task<(SocketIOTestServer Server, ChatApp App)> StartChatAsync(Action<SocketIOServer>? extra = null, Action<SocketIOOptions>? options = null)
    {
        var app = new ChatApp();
        var server = await SocketIOTestServer.StartAsync(io =>
        {
            app.Configure(io);
            extra?.Invoke(io);
        }, options);
        return (server, app);
    }

    [Fact]
    public async Task Connects_over_polling_then_upgrades_to_websocket()
    {
        var (server, app) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("upgrade", server.Url)).EnsureDone();
        Assert.Equal("polling", run.Step("connected").GetProperty("transport").GetString());
        var echoes = run.All("echo").ToArray();
        Assert.Equal("before", echoes[0].GetProperty("value").GetString());
        Assert.Equal("websocket", run.Step("upgraded").GetProperty("transport").GetString());
        Assert.Equal("after", echoes[1].GetProperty("value").GetString());
        Assert.Equal("websocket", echoes[1].GetProperty("transport").GetString());
        Assert.Equal("client namespace disconnect", await app.FirstDisconnect.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Connects_over_websocket_only()
    {
        var (server, app) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("websocket", server.Url)).EnsureDone();
        Assert.Equal("websocket", run.Step("connected").GetProperty("transport").GetString());
        var echo = run.Step("echo").GetProperty("value");
        Assert.Equal("world", echo.GetProperty("hello").GetString());
        Assert.Equal(42, echo.GetProperty("n").GetInt32());
        Assert.Equal(["websocket"], app.Transports.ToArray());
        Assert.Equal("client namespace disconnect", await app.FirstDisconnect.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Acknowledges_in_both_directions()
    {
        static async Task AskAsync(SocketIOSocket socket)
        {
            var answer = await socket.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync<JsonElement>("ask", new { a = 6, b = 7 });
            await socket.EmitAsync("asked-result", answer.GetProperty("answer").GetInt32());
        }
        var (server, _) = await StartChatAsync(io => io.OnConnection(socket => { var asking = AskAsync(socket); }));
        await using var _ = server;
        var run = (await NodeClient.RunAsync("acks", server.Url)).EnsureDone();
        Assert.Equal(5, run.Step("sum").GetProperty("sum").GetInt32());
        Assert.Equal(6, run.Step("asked").GetProperty("question").GetProperty("a").GetInt32());
        Assert.Equal(42, run.Step("server-got").GetProperty("server").GetInt32());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PerMessageDeflate_on_the_websocket_transport_is_off_by_default_and_on_when_configured(bool enabled)
    {
        var (server, _) = await StartChatAsync(options: o =>
        {
            if (enabled) o.ConfigureWebSocket = w => w.Connection.Compression.Enabled = true;
        });
        await using var _ = server;
        var step = (await NodeClient.RunAsync("deflate", server.Url)).EnsureDone().Step("deflate");
        // The npm client (ws underneath) offers permessage-deflate; the server agrees only when told to.
        Assert.Equal(enabled, step.GetProperty("extensions").GetString()!.Contains("permessage-deflate"));
        Assert.True(step.GetProperty("echoed").GetBoolean());
    }

    [Fact]
    public async Task Room_size_counts_the_members_of_a_room_as_they_join_and_leave()
    {
        var (server, _) = await StartChatAsync();
        await using var _ = server;
        var sizes = (await NodeClient.RunAsync("room-size", server.Url)).EnsureDone().Step("sizes");
        Assert.Equal(2, sizes.GetProperty("both").GetInt32());
        Assert.Equal(1, sizes.GetProperty("one").GetInt32());
        Assert.Equal(0, sizes.GetProperty("none").GetInt32());
    }

    [Fact]
    public async Task A_broadcast_ack_that_times_out_keeps_the_answers_that_came()
    {
        var (server, _) = await StartChatAsync(io => io.OnConnection(socket => socket.On("start-poll", e =>
        {
            // Off the handler: the asker's own answer to the poll must be read while the server waits.
            var asking = Task.Run(async () =>
            {
                try
                {
                    await io.Sockets.Timeout(TimeSpan.FromMilliseconds(500)).EmitWithAckAsync("poll");
                    await e.AckAsync(new { timedOut = false });
                }
                catch (SocketIOBroadcastAckTimeoutException ex)
                {
                    await e.AckAsync(new { timedOut = true, expected = ex.Expected, responses = ex.Responses.Select(r => r.Get<string>(0)).ToArray() });
                }
            });
        })));
        await using var _ = server;
        var outcome = (await NodeClient.RunAsync("partial-acks", server.Url)).EnsureDone().Step("outcome").GetProperty("outcome");
        Assert.True(outcome.GetProperty("timedOut").GetBoolean());
        Assert.Equal(2, outcome.GetProperty("expected").GetInt32());
        Assert.Equal(new[] { "yes-a" }, outcome.GetProperty("responses").EnumerateArray().Select(r => r.GetString()!).ToArray());
    }

    [Fact]
    public async Task Rooms_and_broadcasts_reach_exactly_their_sockets()
    {
        var (server, _) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("rooms", server.Url)).EnsureDone();
        var received = run.Step("received").GetProperty("received");
        string[] Events(string who) => received.GetProperty(who).EnumerateArray().Select(e => e[0].GetString()!).ToArray();
        // alice spoke to the lobby: bob (in it) heard, alice (the sender) and carol (not in it) did not.
        Assert.DoesNotContain("user-said", Events("alice"));
        Assert.Contains("user-said", Events("bob"));
        Assert.DoesNotContain("user-said", Events("carol"));
        Assert.Equal("hi room", received.GetProperty("bob").EnumerateArray().First(e => e[0].GetString() == "user-said")[2].GetString());
        // carol shouted to everyone (herself included), then spoke to the others only.
        Assert.All(new[] { "alice", "bob", "carol" }, who => Assert.Contains("announce", Events(who)));
        Assert.Contains("from-other", Events("alice"));
        Assert.Contains("from-other", Events("bob"));
        Assert.DoesNotContain("from-other", Events("carol"));
    }

    [Theory]
    [InlineData("polling")]
    [InlineData("websocket")]
    public async Task Binary_travels_both_ways_as_attachments(string transport)
    {
        var (server, _) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("binary", server.Url, new { client = new { transports = new[] { transport } } })).EnsureDone();
        Assert.Equal(transport, run.Step("connected").GetProperty("transport").GetString());
        var reply = run.Step("reply");
        Assert.Equal(4, reply.GetProperty("length").GetInt32());
        Assert.Equal([255, 3, 2, 1], reply.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
        Assert.Equal("héllo", reply.GetProperty("nested").GetString());
        var pushed = run.Step("server-binary");
        Assert.Equal([9, 8, 7], pushed.GetProperty("data").EnumerateArray().Select(b => b.GetInt32()));
        Assert.Equal("srv", pushed.GetProperty("meta").GetProperty("name").GetString());
        Assert.Equal([0, 1, 2], pushed.GetProperty("meta").GetProperty("payload").EnumerateArray().Select(b => b.GetInt32()));
    }

    [Fact]
    public async Task Catch_all_and_outgoing_listeners_run_in_order_and_see_emits_and_broadcasts_but_not_acks()
    {
        var (server, _) = await StartChatAsync(io => io.OnConnection(socket =>
        {
            var incoming = new ConcurrentQueue<string>();
            var outgoing = new ConcurrentQueue<string>();
            Action<SocketIOEvent> removed = e => incoming.Enqueue("removed:" + e.Name);
            socket.OnAny(e => incoming.Enqueue("second:" + e.Name));
            socket.PrependAny(e => incoming.Enqueue("first:" + e.Name));
            socket.OnAny(removed);
            socket.OffAny(removed);
            Action<string, SocketIOArgs> dropped = (name, _) => outgoing.Enqueue("dropped:" + name);
            socket.OnAnyOutgoing((name, args) => outgoing.Enqueue($"{name}:{args.Count}"));
            socket.PrependAnyOutgoing((name, args) => outgoing.Enqueue("first:" + name));
            socket.OnAnyOutgoing(dropped);
            socket.OffAnyOutgoing(dropped);
            socket.On("push-me", async e =>
            {
                await socket.EmitAsync("pushed", 1, new byte[] { 1, 2 });
                var answer = await socket.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync<string>("question");
                await e.AckAsync(answer);
            });
            socket.On("catch-all-log", e => e.AckAsync(new
            {
                incoming = incoming.ToArray(),
                outgoing = outgoing.ToArray(),
                any = socket.ListenersAny().Count,
                anyOutgoing = socket.ListenersAnyOutgoing().Count,
            }));
        }));
        await using var _ = server;
        var step = (await NodeClient.RunAsync("catch-all", server.Url)).EnsureDone().Step("log");
        var log = step.GetProperty("log");
        string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();
        Assert.Equal(["first:shout", "second:shout", "first:push-me", "second:push-me", "first:catch-all-log", "second:catch-all-log"], Strings(log.GetProperty("incoming")));
        // A broadcast to all (io.emit), an emit with a binary part, one asking for an ack; the acks the
        // server sent ("shout", "push-me") are not events.
        Assert.Equal(["first:announce", "announce:1", "first:pushed", "pushed:2", "first:question", "question:0"], Strings(log.GetProperty("outgoing")));
        Assert.Equal(2, log.GetProperty("any").GetInt32());
        Assert.Equal(2, log.GetProperty("anyOutgoing").GetInt32());
        Assert.Equal(["announce", "pushed", "question"], Strings(step.GetProperty("got")));
    }

    [Fact]
    public async Task Socket_middleware_rewrites_events_and_a_rejection_goes_to_the_error_listeners_not_the_handlers()
    {
        var (server, _) = await StartChatAsync(io => io.OnConnection(socket =>
        {
            var seenByAny = new ConcurrentQueue<string>();
            int handled = 0;
            socket.OnAny(e => seenByAny.Enqueue(e.Name));
            socket.Use(e =>
            {
                if (e.Name == "forbidden") throw new InvalidOperationException("not allowed: " + e.Args.Get<int>(0));
            });
            socket.Use(async e =>
            {
                if (e.Name != "echo") return;
                if (e.Args.Get<string>(0) == "slow") await Task.Delay(50);
                e.SetArgs(e.Args.Get<string>(0)!.ToUpperInvariant());
            });
            socket.On("forbidden", _ => Interlocked.Increment(ref handled));
            socket.OnError(ex => socket.EmitAsync("rejected", ex.Message));
            socket.On("middleware-log", e => e.AckAsync(new { any = seenByAny.ToArray(), handled }));
        }));
        await using var _ = server;
        var step = (await NodeClient.RunAsync("packet-middleware", server.Url)).EnsureDone().Step("middleware");
        // ChatApp's "echo" handler answers with its first argument, as the middleware left it.
        Assert.Equal("HELLO", step.GetProperty("upper").GetString());
        Assert.Equal("SLOW", step.GetProperty("slow").GetString());
        Assert.False(step.GetProperty("answered").GetBoolean());
        Assert.Equal(["not allowed: 1", "not allowed: 2"], step.GetProperty("rejected").EnumerateArray().Select(r => r.GetString()!).ToArray());
        var log = step.GetProperty("log");
        Assert.Equal(0, log.GetProperty("handled").GetInt32());
        // Catch-all listeners run before the middleware, as in the reference: they saw the rejected events too.
        Assert.Equal(["echo", "forbidden", "forbidden", "echo", "middleware-log"], log.GetProperty("any").EnumerateArray().Select(r => r.GetString()!).ToArray());
    }

    [Fact]
    public async Task Middleware_refusal_reaches_the_client_as_connect_error_with_message_and_data()
    {
        var (server, _) = await StartChatAsync(io => io.Use(socket =>
        {
            if (socket.Handshake.Auth?.GetProperty("token").GetString() != "secret")
                throw new SocketIOConnectRefusedException("not authorized", new { code = 401 });
        }));
        await using var _ = server;
        var run = (await NodeClient.RunAsync("refused", server.Url, new { auth = new { token = "wrong" } })).EnsureDone();
        var error = run.Step("connect_error");
        Assert.Equal("not authorized", error.GetProperty("message").GetString());
        Assert.Equal(401, error.GetProperty("data").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Unknown_namespace_is_refused_with_Invalid_namespace()
    {
        var (server, _) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("refused", server.Url, new { path = "/nowhere" })).EnsureDone();
        Assert.Equal("Invalid namespace", run.Step("connect_error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Connects_to_a_namespace_with_auth_through_its_middleware()
    {
        var (server, _) = await StartChatAsync(io =>
        {
            var admin = io.Of("/admin");
            admin.Use(socket => { socket.Data["user"] = socket.Handshake.GetAuth<JsonElement>().GetProperty("user").GetString(); });
            admin.OnConnection(socket => socket.EmitAsync("welcome", $"hello {socket.Data["user"]} in {socket.Namespace.Name}"));
        });
        await using var _ = server;
        var run = (await NodeClient.RunAsync("namespace", server.Url, new { path = "/admin", auth = new { user = "ada" } })).EnsureDone();
        Assert.Equal("hello ada in /admin", run.Step("welcome").GetProperty("welcome").GetString());
    }

    [Fact]
    public async Task Dynamic_namespaces_match_by_predicate()
    {
        var (server, _) = await StartChatAsync(io =>
            io.Of(name => name.StartsWith("/team-", StringComparison.Ordinal))
              .OnConnection(socket => socket.EmitAsync("welcome", socket.Namespace.Name)));
        await using var _ = server;
        var run = (await NodeClient.RunAsync("namespace", server.Url, new { path = "/team-42" })).EnsureDone();
        Assert.Equal("/team-42", run.Step("welcome").GetProperty("welcome").GetString());
    }

    [Fact]
    public async Task New_namespace_is_raised_for_named_and_dynamic_children_and_their_own_handlers_stay_theirs()
    {
        var created = new ConcurrentQueue<string>();
        var ran = new ConcurrentQueue<(string Handler, string Socket)>();
        var (server, _) = await StartChatAsync(io =>
        {
            io.OnNewNamespace(ns =>
            {
                created.Enqueue(ns.Name);
                ns.OnConnection(socket =>
                {
                    ran.Enqueue((ns.Name, socket.Namespace.Name));
                    return socket.EmitAsync("welcome", "own handler of " + ns.Name);
                });
            });
            io.Of("/static");
            io.Of("/static"); // exists: not raised again
            io.Of(name => name.StartsWith("/team-", StringComparison.Ordinal));
        });
        await using var _ = server;
        foreach (var team in new[] { "/team-7", "/team-8" })
        {
            var run = (await NodeClient.RunAsync("namespace", server.Url, new { path = team })).EnsureDone();
            Assert.Equal("own handler of " + team, run.Step("welcome").GetProperty("welcome").GetString());
        }
        var again = (await NodeClient.RunAsync("namespace", server.Url, new { path = "/team-7" })).EnsureDone();
        Assert.Equal("own handler of /team-7", again.Step("welcome").GetProperty("welcome").GetString());
        Assert.Equal(["/static", "/team-7", "/team-8"], created.ToArray());
        Assert.All(ran, r => Assert.Equal(r.Handler, r.Socket));
        Assert.Equal(3, ran.Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task With_cleanup_an_empty_dynamic_child_is_removed_when_its_last_socket_leaves_or_its_creator_is_refused(bool cleanup)
    {
        var created = new ConcurrentQueue<string>();
        var left = new SemaphoreSlim(0);
        SocketIOServer? io = null;
        var (server, _) = await StartChatAsync(s =>
        {
            io = s;
            s.OnNewNamespace(ns => created.Enqueue(ns.Name));
            s.Of(name => name.StartsWith("/team-", StringComparison.Ordinal))
             .Use(socket =>
             {
                 if (socket.Namespace.Name == "/team-refused") throw new SocketIOConnectRefusedException("no");
             })
             .OnConnection(socket =>
             {
                 socket.OnDisconnect(_ => left.Release());
                 return socket.EmitAsync("welcome", socket.Namespace.Name);
             });
        }, o => o.CleanupEmptyChildNamespaces = cleanup);
        await using var _ = server;

        async Task GoneAsync(string name)
        {
            // The removal follows the disconnect (or the refusal) on the server's side: bounded wait.
            for (int i = 0; i < 200 && io!.HasNamespace(name); i++) await Task.Delay(25);
        }
        for (int round = 0; round < 2; round++)
        {
            (await NodeClient.RunAsync("namespace", server.Url, new { path = "/team-1" })).EnsureDone();
            Assert.True(await left.WaitAsync(TimeSpan.FromSeconds(10)));
            if (cleanup) await GoneAsync("/team-1");
            Assert.Equal(!cleanup, io!.HasNamespace("/team-1"));

            var refused = (await NodeClient.RunAsync("refused", server.Url, new { path = "/team-refused" })).EnsureDone();
            Assert.Equal("no", refused.Step("connect_error").GetProperty("message").GetString());
            if (cleanup) await GoneAsync("/team-refused");
            Assert.Equal(!cleanup, io!.HasNamespace("/team-refused"));
        }
        // Each removed child is made anew (and announced again) by the next connection to its name.
        string[] expected = cleanup ? ["/team-1", "/team-refused", "/team-1", "/team-refused"] : ["/team-1", "/team-refused"];
        Assert.Equal(expected, created.ToArray());
        Assert.True(io!.HasNamespace("/"));
    }

    [Theory]
    [InlineData("polling")]
    [InlineData("websocket")]
    public async Task Server_disconnect_is_seen_as_io_server_disconnect(string transport)
    {
        var (server, app) = await StartChatAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("kicked", server.Url, new { transports = new[] { transport } })).EnsureDone();
        Assert.Equal("io server disconnect", run.Step("disconnect").GetProperty("reason").GetString());
        Assert.Equal("server namespace disconnect", await app.FirstDisconnect.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
