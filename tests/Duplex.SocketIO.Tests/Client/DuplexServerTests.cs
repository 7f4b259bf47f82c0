using System.Collections.Concurrent;
using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>The Duplex C# client against the Duplex server.</summary>
public sealed class DuplexServerTests
{
    private sealed class App
    {
        public readonly ConcurrentQueue<string> Records = new();
        public readonly ConcurrentQueue<string> DisconnectReasons = new();

        public void Configure(SocketIOServer io)
        {
            io.OnConnection(socket =>
            {
                socket.OnDisconnect(reason => DisconnectReasons.Enqueue(reason));
                socket.On("echo", e => e.AckAsync(e.Args.Select(a => (object?)a).ToArray()));
                socket.On("transport", e => e.AckAsync(socket.Engine.Transport));
                socket.On("auth", e => e.AckAsync(socket.Handshake.Auth));
                socket.On("binary", e =>
                {
                    var data = e.Args.GetBytes(0)!;
                    return e.AckAsync(data.Reverse().ToArray(), new { length = data.Length, copy = data });
                });
                socket.On("send-binary", _ => socket.EmitAsync("binary-back", new byte[] { 5, 6, 7 }, new { inner = new byte[] { 8 } }));
                socket.On("ask", async _ =>
                {
                    var answer = await socket.Timeout(TimeSpan.FromSeconds(10)).EmitWithAckAsync<JsonElement>("question", new { a = 6, b = 7 });
                    await socket.EmitAsync("answer", answer);
                });
                socket.On("record", e => Records.Enqueue(e.Args.Get<string>(0)!));
                socket.On("drop-transport", _ => socket.Engine.Close());
                socket.On("disconnect-me", _ => socket.Disconnect());
            });
            var admin = io.Of("/admin");
            admin.Use(socket =>
            {
                var token = socket.Handshake.Auth is { ValueKind: JsonValueKind.Object } auth && auth.TryGetProperty("token", out var t) ? t.GetString() : null;
                if (token != "secret") throw new SocketIOConnectRefusedException("bad token", new { token });
            });
            admin.OnConnection(socket => socket.On("whoami", e => e.AckAsync(new { nsp = socket.Namespace.Name, id = socket.Id })));
        }
    }

    private static async Task<(SocketIOTestServer Server, App App)> StartAsync()
    {
        var app = new App();
        return (await SocketIOTestServer.StartAsync(app.Configure), app);
    }

    [Fact]
    public async Task Polls_then_upgrades_with_acks_and_binary_both_ways()
    {
        var (server, _) = await StartAsync();
        await using var _s = server;
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast());
        var answer = Waits.Signal<JsonElement>();
        var back = Waits.Signal<SocketIOClientEvent>();
        client.On<JsonElement, object>("question", q => new { product = q.GetProperty("a").GetInt32() * q.GetProperty("b").GetInt32() });
        client.On<JsonElement>("answer", a => answer.TrySetResult(a));
        client.On("binary-back", e => back.TrySetResult(e));
        await client.ConnectAsync(Waits.Deadline);

        var echo = await client.Timeout(Waits.Long).EmitWithAckAsync("echo", "polling", 1);
        Assert.Equal("polling", echo.Get<string>(0));
        Assert.Equal(1, echo.Get<int>(1));
        var binary = await client.Timeout(Waits.Long).EmitWithAckAsync("binary", new byte[] { 1, 2, 3 });
        Assert.Equal([3, 2, 1], binary.GetBytes(0));
        Assert.Equal([1, 2, 3], binary.Get<BinaryCopy>(1)!.Copy);

        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        Assert.Equal("websocket", client.Transport);
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        binary = await client.Timeout(Waits.Long).EmitWithAckAsync("binary", new ReadOnlyMemory<byte>([4, 5]));
        Assert.Equal([5, 4], binary.GetBytes(0));

        await client.EmitAsync("ask");
        Assert.Equal(42, (await answer.Within("the server's ack result")).GetProperty("product").GetInt32());
        await client.EmitAsync("send-binary");
        var e = await back.Within("binary-back");
        Assert.Equal([5, 6, 7], e.Args.GetBytes(0));
        Assert.Equal([8], e.Args.Get<Inner>(1)!.Value);
    }

    [Fact]
    public async Task Upgraded_websocket_outlives_the_upgrade_timeout()
    {
        // The upgrade timeout bounds the probe and the switch, not the WebSocket's life after it.
        var (server, _) = await StartAsync();
        await using var _s = server;
        var disconnects = new ConcurrentQueue<string>();
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast(o => o.UpgradeTimeout = TimeSpan.FromSeconds(2)));
        client.Disconnected += reason => disconnects.Enqueue(reason);
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        var id = client.Id;

        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Empty(disconnects);
        Assert.Equal(id, client.Id);
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
    }

    private sealed record BinaryCopy(byte[]? Copy);

    private sealed record Inner([property: System.Text.Json.Serialization.JsonPropertyName("inner")] byte[]? Value);

    [Fact]
    public async Task Websocket_only_with_namespaces_and_a_refusal_from_middleware()
    {
        var (server, _) = await StartAsync();
        await using var _s = server;
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast(o => o.Transports = ["websocket"]));
        var admin = client.Of("/admin", _ => ValueTask.FromResult<object?>(new { token = "nope" }));
        var refused = await Assert.ThrowsAsync<SocketIOConnectException>(() => admin.ConnectAsync(Waits.Deadline));
        Assert.Equal("bad token", refused.Message);
        Assert.Equal("nope", refused.ErrorData!.Value.GetProperty("token").GetString());

        var missing = client.Of("/missing");
        var invalid = await Assert.ThrowsAsync<SocketIOConnectException>(() => missing.ConnectAsync(Waits.Deadline));
        Assert.Equal("Invalid namespace", invalid.Message);

        admin.Auth = _ => ValueTask.FromResult<object?>(new { token = "secret" });
        await client.ConnectAsync(Waits.Deadline);
        await admin.ConnectAsync(Waits.Deadline);
        Assert.Equal("websocket", client.Transport);
        var self = await admin.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("whoami");
        Assert.Equal("/admin", self.GetProperty("nsp").GetString());
        Assert.Equal(admin.Id, self.GetProperty("id").GetString());
        Assert.Equal("echo", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "echo"));
    }

    [Fact]
    public async Task Reconnects_after_the_server_closes_the_session_and_delivers_the_buffer()
    {
        var (server, app) = await StartAsync();
        await using var _s = server;
        int attempts = 0;
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast(o =>
            o.Auth = _ => ValueTask.FromResult<object?>(new { attempt = Interlocked.Increment(ref attempts) })));
        var reasons = new Waits.Inbox<string>();
        var connects = new Waits.Inbox<bool>();
        client.Connected += () => connects.Add(true);
        client.Disconnected += r =>
        {
            _ = client.EmitAsync("record", "while-down");
            reasons.Add(r);
        };
        await client.ConnectAsync(Waits.Deadline);
        await connects.NextAsync("connect");
        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        await client.EmitAsync("drop-transport");
        Assert.Equal("transport close", await reasons.NextAsync("disconnect"));
        await connects.NextAsync("the reconnection");
        Assert.Equal(2, (await client.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("auth")).GetProperty("attempt").GetInt32());
        Assert.Equal(["while-down"], app.Records.ToArray());

        // A server-side namespace disconnect is final.
        await client.EmitAsync("disconnect-me");
        Assert.Equal("io server disconnect", await reasons.NextAsync("the server's disconnect"));
        Assert.False(client.Socket.IsActive);
    }

    [Fact]
    public async Task Client_disconnect_reaches_the_server_as_client_namespace_disconnect()
    {
        var (server, app) = await StartAsync();
        await using var _s = server;
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast());
        var reason = Waits.Signal<string>();
        client.Disconnected += r => reason.TrySetResult(r);
        await client.ConnectAsync(Waits.Deadline);
        var pending = client.EmitWithAckAsync("never-answered");
        await client.DisconnectAsync();
        Assert.Equal("io client disconnect", await reason.Within("disconnect"));
        Assert.Equal("io client disconnect", (await Assert.ThrowsAsync<SocketIODisconnectedException>(() => pending)).Reason);
        for (int i = 0; i < 200 && app.DisconnectReasons.IsEmpty; i++) await Task.Delay(50);
        Assert.Equal("client namespace disconnect", Assert.Single(app.DisconnectReasons));

        // The same client connects again later.
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(client.IsConnected);
    }
}
