using System.Diagnostics;
using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>The Duplex C# client against the real npm socket.io server (4.8.x, tests/peers-socketio/server.js).</summary>
public sealed class NodeServerInteropTests
{
    [Fact]
    public async Task Connects_over_polling_then_upgrades_to_websocket()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(client.IsConnected);
        Assert.NotNull(client.Id);
        Assert.Equal("before", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "before"));
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        Assert.Equal("websocket", client.Transport);
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        Assert.Equal("after", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "after"));
    }

    [Fact]
    public async Task Connects_over_websocket_only()
    {
        await using var server = await NodeServer.StartAsync(new { transports = new[] { "websocket" } });
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Transports = ["websocket"]));
        await client.ConnectAsync(Waits.Deadline);
        Assert.Equal("websocket", client.Transport);
        var echo = await client.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("echo", new { hello = "world", n = 42 });
        Assert.Equal("world", echo.GetProperty("hello").GetString());
        Assert.Equal(42, echo.GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Reaches_a_websocket_only_server_with_the_default_transports()
    {
        // The server answers the polling handshake "Transport unknown": the client goes on to WebSocket.
        await using var server = await NodeServer.StartAsync(new { transports = new[] { "websocket" } });
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Reconnection = false));
        await client.ConnectAsync(Waits.Deadline);
        Assert.Equal("websocket", client.Transport);
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("first-transport"));
        Assert.Equal("fine", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "fine"));
    }

    [Fact]
    public async Task A_transport_that_fails_is_not_skipped_unless_told_to_try_all()
    {
        // A WebSocket refused with a bare 400 (not "Transport unknown") ends the attempt, as npm without tryAllTransports.
        await using var server = await NodeServer.StartAsync(new { transports = new[] { "polling" } });
        await using (var strict = new SocketIOClient(server.Uri, Waits.Fast(o => { o.Transports = ["websocket", "polling"]; o.Reconnection = false; })))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => strict.ConnectAsync(Waits.Deadline));
            Assert.False(strict.IsConnected);
        }
        await using var tryAll = new SocketIOClient(server.Uri, Waits.Fast(o =>
        {
            o.Transports = ["websocket", "polling"];
            o.TryAllTransports = true;
            o.Reconnection = false;
        }));
        await tryAll.ConnectAsync(Waits.Deadline);
        Assert.Equal("polling", tryAll.Transport);
        Assert.Equal("polling", await tryAll.Timeout(Waits.Long).EmitWithAckAsync<string>("first-transport"));
    }

    [Theory]
    [InlineData(true, "websocket")]
    [InlineData(false, "polling")]
    public async Task Remember_upgrade_opens_the_next_session_on_websocket(bool rememberUpgrade, string secondFirstTransport)
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.RememberUpgrade = rememberUpgrade));
        await client.ConnectAsync(Waits.Deadline);
        Assert.Equal("polling", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("first-transport"));
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));

        var reconnected = Waits.Signal<int>();
        client.Reconnected += attempt => reconnected.TrySetResult(attempt);
        await client.EmitAsync("drop-transport");
        await reconnected.Within("the reconnection");
        Assert.Equal(secondFirstTransport, await client.Timeout(Waits.Long).EmitWithAckAsync<string>("first-transport"));
    }

    [Fact]
    public async Task Retries_resend_an_unacknowledged_emit_until_the_server_acks()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o =>
        {
            o.Retries = 3;
            o.AckTimeout = TimeSpan.FromMilliseconds(300);
        }));
        await client.ConnectAsync(Waits.Deadline);
        // The server ignores the first two attempts: the third, under a new packet id, is acknowledged.
        Assert.Equal(3, await client.EmitWithAckAsync<int>("flaky", "k", 3, false).Within("the retried emit"));
        Assert.Equal(0, client.Socket.RetryQueueCount);
    }

    [Fact]
    public async Task Retries_give_up_after_the_last_attempt_with_a_timeout()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o =>
        {
            o.Retries = 2;
            o.AckTimeout = TimeSpan.FromMilliseconds(200);
        }));
        await client.ConnectAsync(Waits.Deadline);
        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.EmitWithAckAsync("flaky", "never", 100, false).WaitAsync(Waits.Long));
        Assert.Contains("no acknowledgement of \"flaky\"", error.Message);
        // One first attempt and two retries reached the server; the queue moved on.
        Assert.Equal(3, await client.EmitWithAckAsync<int>("attempts", "never").Within("the count"));
    }

    [Fact]
    public async Task Retries_send_one_emit_at_a_time_in_order()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Retries = 1));
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.EmitWithAckAsync<bool>("clear-records").Within("the clear"));
        var emits = Enumerable.Range(0, 30).Select(i => client.EmitWithAckAsync<int>("record-ack", i.ToString())).ToArray();
        Assert.True(client.Socket.RetryQueueCount > 1); // queued behind the one in flight
        await Task.WhenAll(emits).Within("the queued emits");
        var records = await client.EmitWithAckAsync<string[]>("records").Within("the records");
        Assert.Equal(Enumerable.Range(0, 30).Select(i => i.ToString()), records);
    }

    [Fact]
    public async Task Retries_carry_an_emit_cut_short_by_a_disconnect_over_to_the_next_connection()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Retries = 2));
        await client.ConnectAsync(Waits.Deadline);
        var disconnected = Waits.Signal<string>();
        client.Disconnected += r => disconnected.TrySetResult(r);
        // The first attempt makes the server drop the transport; the second goes out on the new connection.
        Assert.Equal(2, await client.EmitWithAckAsync<int>("flaky", "cut", 2, true).Within("the emit across the reconnection"));
        Assert.Equal("transport close", await disconnected.Within("the disconnect"));
    }

    [Fact]
    public async Task Catch_all_and_outgoing_listeners_run_in_order_and_see_buffered_emits_as_they_go_out()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var incoming = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var outgoing = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Action<SocketIOClientEvent> removed = e => incoming.Enqueue("removed:" + e.Name);
        client.OnAny(e => incoming.Enqueue("second:" + e.Name));
        client.PrependAny(e => incoming.Enqueue("first:" + e.Name));
        client.OnAny(removed);
        client.OffAny(removed);
        Action<string, SocketIOArgs> dropped = (name, _) => outgoing.Enqueue("dropped:" + name);
        client.OnAnyOutgoing((name, args) => outgoing.Enqueue($"{name}:{args.Get<string>(0)}"));
        client.PrependAnyOutgoing((name, _) => outgoing.Enqueue("first:" + name));
        client.OnAnyOutgoing(dropped);
        client.OffAnyOutgoing(dropped);
        Assert.Equal(2, client.ListenersAny().Count);
        Assert.Equal(2, client.ListenersAnyOutgoing().Count);
        var echoed = Waits.Signal<string>();
        client.On<string>("echoed", value => echoed.TrySetResult(value!));

        // Before connecting: one emit waits in the buffer, a volatile one is dropped (and never "sent").
        await client.EmitAsync("echo", "buffered");
        await client.Volatile.EmitAsync("echo", "dropped");
        Assert.Empty(outgoing);
        await client.ConnectAsync(Waits.Deadline);
        Assert.Equal("buffered", await echoed.Within("the buffered echo"));
        Assert.Equal("hi", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "hi"));

        Assert.Equal(["first:echo", "echo:buffered", "first:echo", "echo:hi"], outgoing.ToArray());
        Assert.Equal(["first:echoed", "second:echoed"], incoming.ToArray());
        client.OffAny().OffAnyOutgoing();
        Assert.Empty(client.ListenersAny());
        Assert.Empty(client.ListenersAnyOutgoing());
    }

    [Fact]
    public async Task Stays_on_polling_when_told_to()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Transports = ["polling"]));
        await client.ConnectAsync(Waits.Deadline);
        Assert.False(await client.WaitForUpgradeAsync().Within("the upgrade decision"));
        Assert.Equal("polling", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        // Many packets in both directions go through the batching of polling payloads.
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.Timeout(Waits.Long).EmitWithAckAsync<int>("echo", i)));
        Assert.Equal(Enumerable.Range(0, 50), answers);
    }

    [Fact]
    public async Task A_failed_upgrade_leaves_the_session_on_polling()
    {
        await using var server = await NodeServer.StartAsync();
        // A WebSocket that cannot take even "3probe" (6 bytes): the probe fails before the switch, and polling goes on.
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.ConfigureWebSocket = ws => ws.Connection.MaxMessageSize = 1));
        await client.ConnectAsync(Waits.Deadline);
        Assert.False(await client.WaitForUpgradeAsync().Within("the upgrade decision"));
        Assert.Equal("polling", client.Transport);
        Assert.Equal("polling", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        Assert.Equal("still fine", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "still fine"));
    }

    [Fact]
    public async Task A_killed_server_is_a_transport_error_and_fails_pending_acks()
    {
        var server = await NodeServer.StartAsync();
        await using var _ = server;
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => { o.Transports = ["polling"]; o.Reconnection = false; }));
        var reason = Waits.Signal<string>();
        client.Disconnected += r => reason.TrySetResult(r);
        await client.ConnectAsync(Waits.Deadline);
        var pending = client.EmitWithAckAsync("hang");
        Assert.Equal("polling", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        using (var kill = Process.Start("kill", ["-KILL", server.ProcessId.ToString()])) await kill.WaitForExitAsync();
        Assert.Equal("transport error", await reason.Within("the disconnect"));
        Assert.Equal("transport error", (await Assert.ThrowsAsync<SocketIODisconnectedException>(() => pending.Within("the pending ack"))).Reason);
        Assert.False(client.Socket.IsActive); // reconnection is off
    }

    [Fact]
    public async Task Gives_up_after_the_configured_reconnection_attempts_and_fails_what_waited()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.ReconnectionAttempts = 2));
        var attempts = new Waits.Inbox<int>();
        var errors = new Waits.Inbox<Exception>();
        var failed = Waits.Signal<bool>();
        var disconnected = Waits.Signal<string>();
        client.ReconnectAttempt += n => attempts.Add(n);
        client.ReconnectError += e => errors.Add(e);
        client.ReconnectFailed += () => failed.TrySetResult(true);
        client.Disconnected += r => disconnected.TrySetResult(r);
        await client.ConnectAsync(Waits.Deadline);
        using (var kill = Process.Start("kill", ["-KILL", server.ProcessId.ToString()])) await kill.WaitForExitAsync();
        await disconnected.Within("the disconnect");
        var waiting = client.EmitWithAckAsync("echo", "never sent");
        Assert.Equal(1, await attempts.NextAsync("attempt 1"));
        Assert.Equal(2, await attempts.NextAsync("attempt 2"));
        Assert.True(await failed.Within("reconnect_failed"));
        Assert.NotNull(await errors.NextAsync("the first reconnect error"));
        Assert.NotNull(await errors.NextAsync("the second reconnect error"));
        Assert.False(attempts.TryTake(out _));
        Assert.Equal("reconnect failed", (await Assert.ThrowsAsync<SocketIODisconnectedException>(() => waiting.Within("the buffered ack"))).Reason);
        Assert.False(client.Socket.IsActive);
        Assert.Equal(0, client.Socket.BufferedCount);
    }

    [Fact]
    public async Task Namespaces_share_one_connection_and_auth_goes_with_each()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var welcome = Waits.Signal<string>();
        var admin = client.Of("/admin", _ => ValueTask.FromResult<object?>(new { token = "secret" }));
        admin.On<string>("admin-welcome", text => welcome.TrySetResult(text!));
        var chat = client.Of("/chat");
        await client.ConnectAsync(Waits.Deadline);
        string engine = client.EngineId!;
        await admin.ConnectAsync(Waits.Deadline);
        await chat.ConnectAsync(Waits.Deadline);
        Assert.Equal("hello admin", await welcome.Within("admin-welcome"));
        var adminSelf = await admin.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("whoami");
        var chatSelf = await chat.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("whoami");
        Assert.Equal("/admin", adminSelf.GetProperty("nsp").GetString());
        Assert.Equal(admin.Id, adminSelf.GetProperty("id").GetString());
        Assert.Equal("/chat", chatSelf.GetProperty("nsp").GetString());
        Assert.NotEqual(admin.Id, chat.Id);
        Assert.Equal(engine, client.EngineId); // still the one Engine.IO connection

        // Leaving one namespace leaves the others connected.
        await chat.DisconnectAsync();
        Assert.False(chat.IsConnected);
        Assert.True(admin.IsConnected);
        Assert.Equal("/admin", (await admin.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("whoami")).GetProperty("nsp").GetString());
    }

    [Fact]
    public async Task Middleware_refusal_surfaces_as_connect_error_with_message_and_data()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => o.Auth = _ => ValueTask.FromResult<object?>(new { refuse = true })));
        var reported = Waits.Signal<SocketIOConnectException>();
        client.ConnectError += e => reported.TrySetResult(e);
        var refused = await Assert.ThrowsAsync<SocketIOConnectException>(() => client.ConnectAsync(Waits.Deadline));
        Assert.Equal("not authorized", refused.Message);
        Assert.True(refused.IsRefusal);
        Assert.Equal(42, refused.ErrorData!.Value.GetProperty("code").GetInt32());
        Assert.Equal("refused by middleware", refused.ErrorData!.Value.GetProperty("reason").GetString());
        Assert.Same(refused, await reported.Within("connect_error"));
        Assert.False(client.IsConnected);

        // A namespace's own middleware, and a second try with the right auth.
        var admin = client.Of("/admin");
        admin.Auth = _ => ValueTask.FromResult<object?>(new { token = "wrong" });
        var bad = await Assert.ThrowsAsync<SocketIOConnectException>(() => admin.ConnectAsync(Waits.Deadline));
        Assert.Equal("bad token", bad.Message);
        Assert.Equal("wrong", bad.ErrorData!.Value.GetProperty("token").GetString());
        admin.Auth = _ => ValueTask.FromResult<object?>(new { token = "secret" });
        await admin.ConnectAsync(Waits.Deadline);
        Assert.True(admin.IsConnected);
    }

    [Fact]
    public async Task Acknowledges_both_ways_and_times_out()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var asked = Waits.Signal<JsonElement>();
        var answer = Waits.Signal<JsonElement>();
        client.On<JsonElement, object>("question", q =>
        {
            asked.TrySetResult(q);
            return new { product = q.GetProperty("a").GetInt32() * q.GetProperty("b").GetInt32() };
        });
        client.On<JsonElement>("answer", a => answer.TrySetResult(a));
        await client.ConnectAsync(Waits.Deadline);

        var args = await client.Timeout(Waits.Long).EmitWithAckAsync("echo", "text", 7, new { ok = true }, null);
        Assert.Equal(4, args.Count);
        Assert.Equal("text", args.Get<string>(0));
        Assert.Equal(7, args.Get<int>(1));
        Assert.True(args[2].GetProperty("ok").GetBoolean());
        Assert.Equal(JsonValueKind.Null, args[3].ValueKind);

        var echoed = Waits.Signal<string>();
        client.On<string>("echoed", v => echoed.TrySetResult(v!));
        await client.Volatile.EmitAsync("echo", "volatile but connected");
        Assert.Equal("volatile but connected", await echoed.Within("the volatile emit's echo"));

        await client.EmitAsync("ask");
        Assert.Equal(6, (await asked.Within("the server's question")).GetProperty("a").GetInt32());
        Assert.Equal(42, (await answer.Within("the server's ack result")).GetProperty("product").GetInt32());

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<TimeoutException>(() => client.Timeout(TimeSpan.FromMilliseconds(300)).EmitWithAckAsync("hang"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the ack timeout took {watch.Elapsed}");
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Binary_travels_both_ways()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var back = Waits.Signal<SocketIOClientEvent>();
        client.On("binary-back", e => back.TrySetResult(e));
        await client.ConnectAsync(Waits.Deadline);

        byte[] data = [0, 1, 2, 255, 128];
        var args = await client.Timeout(Waits.Long).EmitWithAckAsync("binary", data, new { name = "blob" });
        Assert.Equal(data.Reverse().ToArray(), args.GetBytes(0));
        var meta = args.Get<BinaryMeta>(1)!;
        Assert.Equal(5, meta.Length);
        Assert.Equal("blob", meta.Name);
        Assert.Equal(data, meta.Copy);

        // ReadOnlyMemory<byte> is binary too, also after the upgrade.
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        var memory = new ReadOnlyMemory<byte>([9, 8, 7, 6], 1, 2);
        args = await client.Timeout(Waits.Long).EmitWithAckAsync("binary", memory, null);
        Assert.Equal([7, 8], args.GetBytes(0));

        await client.EmitAsync("send-binary");
        var e = await back.Within("binary-back");
        Assert.Equal([1, 2, 3, 250], e.Args.GetBytes(0));
        Assert.Equal("hi"u8.ToArray(), e.Args.Get<Nested>(1)!.Inner);
    }

    private sealed record BinaryMeta(int Length, string? Name, byte[]? Copy);

    private sealed record Nested(byte[]? Inner);

    [Fact]
    public async Task Joins_a_room_and_hears_what_is_sent_to_it_and_sees_every_event_in_on_any()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var roomMessage = Waits.Signal<SocketIOClientEvent>();
        var any = new Waits.Inbox<string>();
        client.On("room-message", e => roomMessage.TrySetResult(e));
        client.OnAny(e => any.Add(e.Name));
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.Timeout(Waits.Long).EmitWithAckAsync<bool>("join", "lobby"));
        await client.EmitAsync("to-room", "lobby", "hi all");
        var e = await roomMessage.Within("room-message");
        Assert.Equal("lobby", e.Args.Get<string>(0));
        Assert.Equal("hi all", e.Args.Get<string>(1));
        Assert.Equal("room-message", await any.NextAsync("the catch-all listener"));
    }

    [Fact]
    public async Task Server_disconnect_is_final_and_reported_as_io_server_disconnect()
    {
        await using var server = await NodeServer.StartAsync();
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var reason = Waits.Signal<string>();
        int attempts = 0;
        client.Disconnected += r => reason.TrySetResult(r);
        client.ReconnectAttempt += _ => Interlocked.Increment(ref attempts);
        await client.ConnectAsync(Waits.Deadline);
        var pending = client.EmitWithAckAsync("hang");
        await client.EmitAsync("disconnect-me");
        Assert.Equal("io server disconnect", await reason.Within("disconnect"));
        var failure = await Assert.ThrowsAsync<SocketIODisconnectedException>(() => pending.Within("the pending ack"));
        Assert.Equal("io server disconnect", failure.Reason);
        Assert.False(client.Socket.IsActive);
        Assert.False(client.IsConnected);
        // No reconnection follows; an emit now waits in the buffer for a ConnectAsync that may never come.
        await client.EmitAsync("record", "after");
        Assert.Equal(1, client.Socket.BufferedCount);
        Assert.Equal(0, Volatile.Read(ref attempts));
    }

    [Fact]
    public async Task Reconnects_after_the_server_drops_the_transport_asking_auth_again_and_sending_the_buffer()
    {
        await using var server = await NodeServer.StartAsync();
        int authCalls = 0;
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o =>
            o.Auth = _ => ValueTask.FromResult<object?>(new { attempt = Interlocked.Increment(ref authCalls) })));
        var reasons = new Waits.Inbox<string>();
        var connects = new Waits.Inbox<bool>();
        var reconnectAttempts = new Waits.Inbox<int>();
        var reconnected = Waits.Signal<int>();
        Task<SocketIOArgs>? bufferedAck = null;
        Task<SocketIOArgs>? inFlightAck = null;
        int bufferedWhileDown = -1;
        client.Connected += () => connects.Add(true);
        client.ReconnectAttempt += n => reconnectAttempts.Add(n);
        client.Reconnected += n => reconnected.TrySetResult(n);
        client.Disconnected += r =>
        {
            // Disconnected now, before any reconnection: these wait in the buffer.
            _ = client.EmitAsync("record", "offline-1");
            _ = client.EmitAsync("record", "offline-2");
            bufferedAck = client.EmitWithAckAsync("echo", "buffered-ack");
            bufferedWhileDown = client.Socket.BufferedCount;
            reasons.Add(r);
        };
        await client.ConnectAsync(Waits.Deadline);
        await connects.NextAsync("the first connect");
        Assert.Equal(1, (await client.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("auth")).GetProperty("attempt").GetInt32());
        Assert.True(await client.Timeout(Waits.Long).EmitWithAckAsync<bool>("clear-records"));
        string firstId = client.Id!;

        inFlightAck = client.EmitWithAckAsync("hang");
        await client.EmitAsync("drop-transport");
        Assert.Equal("transport close", await reasons.NextAsync("the disconnect"));
        Assert.Equal(3, bufferedWhileDown);
        var failure = await Assert.ThrowsAsync<SocketIODisconnectedException>(() => inFlightAck.Within("the in-flight ack"));
        Assert.Equal("transport close", failure.Reason);

        Assert.Equal(1, await reconnectAttempts.NextAsync("reconnect_attempt"));
        Assert.True(await reconnected.Within("reconnect") >= 1);
        await connects.NextAsync("the second connect");
        Assert.NotEqual(firstId, client.Id);
        Assert.Equal("buffered-ack", (await bufferedAck!.Within("the buffered ack")).Get<string>(0));
        Assert.Equal(2, (await client.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("auth")).GetProperty("attempt").GetInt32());
        var records = await client.Timeout(Waits.Long).EmitWithAckAsync<string[]>("records");
        Assert.Equal(new[] { "offline-1", "offline-2" }, records!);
        Assert.Equal(0, client.Socket.BufferedCount);
        Assert.False(client.Recovered); // recovery is off on this server
    }

    [Fact]
    public async Task Recovers_the_session_and_receives_missed_events()
    {
        await using var server = await NodeServer.StartAsync(new { recovery = true });
        await using var client = new SocketIOClient(server.Uri, Waits.Fast());
        var hello = Waits.Signal<string>();
        var missed = Waits.Signal<SocketIOClientEvent>();
        var welcomes = new Waits.Inbox<JsonElement>();
        var connects = new Waits.Inbox<bool>();
        client.On<string>("hello", h => hello.TrySetResult(h!));
        client.On("missed", e => missed.TrySetResult(e));
        client.On<JsonElement>("welcome", w => welcomes.Add(w));
        client.Connected += () => connects.Add(client.Recovered);
        await client.ConnectAsync(Waits.Deadline);
        Assert.False(await connects.NextAsync("the first connect"));
        Assert.False((await welcomes.NextAsync("welcome")).GetProperty("recovered").GetBoolean());
        Assert.Equal("first", await hello.Within("the broadcast that carries an offset"));
        string id = client.Id!;

        await client.EmitAsync("drop-and-miss");
        Assert.True(await connects.NextAsync("the reconnection"), "the second connection should be recovered");
        var e = await missed.Within("the missed event");
        Assert.Equal("while-away", e.Args.Get<string>(0));
        Assert.True(client.Recovered);
        Assert.Equal(id, client.Id); // the server kept the socket's id
        Assert.True((await welcomes.NextAsync("the second welcome")).GetProperty("recovered").GetBoolean());
    }

    [Fact]
    public async Task Answers_pings_and_detects_a_frozen_server_by_ping_timeout()
    {
        // Short, but with room for a busy machine: a pong may be late by up to a second.
        await using var server = await NodeServer.StartAsync(new { pingInterval = 300, pingTimeout = 1000 });
        await using var client = new SocketIOClient(server.Uri, Waits.Fast(o => { o.Reconnection = false; o.Transports = ["websocket"]; }));
        var reason = Waits.Signal<string>();
        client.Disconnected += r => reason.TrySetResult(r);
        await client.ConnectAsync(Waits.Deadline);
        // Longer than pingInterval + pingTimeout passes: the server would close a client that did not answer its pings.
        var watch = Stopwatch.StartNew();
        for (int i = 0; watch.Elapsed < TimeSpan.FromMilliseconds(2500); i++)
        {
            Assert.Equal(i, await client.Timeout(Waits.Long).EmitWithAckAsync<int>("echo", i));
            await Task.Delay(250);
        }
        Assert.True(client.IsConnected);
        Assert.False(reason.Task.IsCompleted);

        // A stopped process keeps its sockets open but sends no pings.
        using (var stop = Process.Start("kill", ["-STOP", server.ProcessId.ToString()])) await stop.WaitForExitAsync();
        try
        {
            Assert.Equal("ping timeout", await reason.Within("the ping timeout"));
            Assert.False(client.IsConnected);
        }
        finally
        {
            using var cont = Process.Start("kill", ["-CONT", server.ProcessId.ToString()]);
            await cont.WaitForExitAsync();
        }
    }
}
