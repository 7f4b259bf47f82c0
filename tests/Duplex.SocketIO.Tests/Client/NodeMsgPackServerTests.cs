using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>
/// The Duplex C# client with <see cref="SocketIOParser.MsgPack"/> against the real npm socket.io server
/// using socket.io-msgpack-parser 3.0.2 (tests/peers-socketio/server.js, option parser "msgpack").
/// </summary>
public sealed class NodeMsgPackServerTests
{
    private static SocketIOClientOptions Options(Action<SocketIOClientOptions>? more = null) => Waits.Fast(o =>
    {
        o.Parser = SocketIOParser.MsgPack;
        more?.Invoke(o);
    });

    [Fact]
    public async Task Values_of_every_kind_round_trip_over_polling_then_websocket()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options());
        await client.ConnectAsync(Waits.Deadline);
        object?[] sent = ["text", "é✓ \U0001F600", new string('x', 70000), 0, 42, -7, -300000, 1.5, -0.25, 1L << 40, null, true, false,
            new { nested = new { a = new object?[] { 1, new { b = (string?)null } } } }, new object[] { 1, "two", new[] { 3 } }];
        var args = await client.Timeout(Waits.Long).EmitWithAckAsync("echo", sent);
        Assert.Equal(sent.Length, args.Count);
        Assert.Equal(JsonSerializer.Serialize(sent, new JsonSerializerOptions(JsonSerializerDefaults.Web)), args.ToString());
        Assert.Equal(-300000, args.Get<int>(6));
        Assert.Equal(1.5, args.Get<double>(7));
        Assert.Equal(1L << 40, args.Get<long>(9));

        Assert.True(await client.WaitForUpgradeAsync().Within("the upgrade"));
        Assert.Equal("websocket", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("transport"));
        Assert.Equal("after", await client.Timeout(Waits.Long).EmitWithAckAsync<string>("echo", "after"));
    }

    [Fact]
    public async Task Binary_travels_both_ways_as_bin()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options(o => o.Transports = ["websocket"]));
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

        await client.EmitAsync("send-binary");
        var e = await back.Within("binary-back");
        Assert.Equal([1, 2, 3, 250], e.Args.GetBytes(0));
        Assert.Equal("hi"u8.ToArray(), e.Args.Get<Nested>(1)!.Inner);
    }

    private sealed record BinaryMeta(int Length, string? Name, byte[]? Copy);

    private sealed record Nested(byte[]? Inner);

    [Fact]
    public async Task The_server_asks_and_the_client_answers()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options());
        var answer = Waits.Signal<JsonElement>();
        client.On<JsonElement, object>("question", q => new { product = q.GetProperty("a").GetInt32() * q.GetProperty("b").GetInt32() });
        client.On<JsonElement>("answer", a => answer.TrySetResult(a));
        await client.ConnectAsync(Waits.Deadline);
        await client.EmitAsync("ask");
        Assert.Equal(42, (await answer.Within("the server's ack result")).GetProperty("product").GetInt32());
    }

    [Fact]
    public async Task Auth_reaches_the_server_refusals_carry_their_data_and_namespaces_connect()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options(o => o.Auth = _ => ValueTask.FromResult<object?>(new { refuse = true })));
        var refused = await Assert.ThrowsAsync<SocketIOConnectException>(() => client.ConnectAsync(Waits.Deadline));
        Assert.Equal("not authorized", refused.Message);
        Assert.Equal(42, refused.ErrorData!.Value.GetProperty("code").GetInt32());

        var admin = client.Of("/admin");
        admin.Auth = _ => ValueTask.FromResult<object?>(new { token = "wrong" });
        var bad = await Assert.ThrowsAsync<SocketIOConnectException>(() => admin.ConnectAsync(Waits.Deadline));
        Assert.Equal("wrong", bad.ErrorData!.Value.GetProperty("token").GetString());
        var welcome = Waits.Signal<string>();
        admin.On<string>("admin-welcome", text => welcome.TrySetResult(text!));
        admin.Auth = _ => ValueTask.FromResult<object?>(new { token = "secret" });
        await admin.ConnectAsync(Waits.Deadline);
        Assert.Equal("hello admin", await welcome.Within("admin-welcome"));
        var self = await admin.Timeout(Waits.Long).EmitWithAckAsync<JsonElement>("whoami");
        Assert.Equal("/admin", self.GetProperty("nsp").GetString());
        Assert.Equal(admin.Id, self.GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_room_broadcast_reaches_the_client()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options());
        var roomMessage = Waits.Signal<SocketIOClientEvent>();
        client.On("room-message", e => roomMessage.TrySetResult(e));
        await client.ConnectAsync(Waits.Deadline);
        Assert.True(await client.Timeout(Waits.Long).EmitWithAckAsync<bool>("join", "lobby"));
        await client.EmitAsync("to-room", "lobby", new { text = "hi all", n = 3 });
        var e = await roomMessage.Within("room-message");
        Assert.Equal("lobby", e.Args.Get<string>(0));
        Assert.Equal(3, e.Args[1].GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task A_server_disconnect_is_io_server_disconnect()
    {
        await using var server = await NodeServer.StartAsync(new { parser = "msgpack" });
        await using var client = new SocketIOClient(server.Uri, Options());
        var reason = Waits.Signal<string>();
        client.Disconnected += r => reason.TrySetResult(r);
        await client.ConnectAsync(Waits.Deadline);
        await client.EmitAsync("disconnect-me");
        Assert.Equal("io server disconnect", await reason.Within("the disconnect"));
    }
}
