using System.Text.Json;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests.Interop;

/// <summary>
/// The npm socket.io-client with socket.io-msgpack-parser 3.0.2 against a Duplex server set to
/// <see cref="SocketIOParser.MsgPack"/>: the scenarios of client.js, each packet one MessagePack message.
/// </summary>
public sealed class NodeMsgPackClientTests
{
    private static async Task<(SocketIOTestServer Server, ChatApp App)> StartAsync(Action<SocketIOServer>? extra = null)
    {
        var app = new ChatApp();
        var server = await SocketIOTestServer.StartAsync(io =>
        {
            app.Configure(io);
            io.OnConnection(socket => socket.On("echo-all", e => e.AckAsync([.. e.Args.Select(a => (object?)a)])));
            extra?.Invoke(io);
        }, o => o.Parser = SocketIOParser.MsgPack);
        return (server, app);
    }

    [Theory]
    [InlineData("polling")]
    [InlineData("websocket")]
    public async Task Values_of_every_kind_come_back_as_sent(string transport)
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("values", server.Url, new { parser = "msgpack", client = new { transports = new[] { transport } } })).EnsureDone();
        var values = run.Step("values");
        Assert.True(values.GetProperty("same").GetBoolean(), values.GetRawText());
        var back = values.GetProperty("back");
        Assert.Equal("é✓ \U0001F600", back[1].GetString());
        Assert.Equal(300, back[2].GetString()!.Length);
        Assert.Equal(-300000, back[6].GetInt32());
        Assert.Equal(-0.25, back[8].GetDouble());
        Assert.Equal(1L << 40, back[9].GetInt64());
        Assert.Equal(JsonValueKind.Null, back[15].ValueKind); // undefined, as JSON.stringify has it
        // Integers stay integers and 1.5 a number: notepack's int and float 64 read and written right.
        Assert.Equal(["string", "string", "string", "integer", "integer", "integer", "integer", "number", "number", "integer",
            "null", "boolean", "boolean", "object", "array", "null"],
            values.GetProperty("kinds").EnumerateArray().Select(k => k.GetString()));
    }

    [Fact]
    public async Task Acks_go_both_ways()
    {
        static async Task AskAsync(SocketIOSocket socket)
        {
            var answer = await socket.Timeout(TimeSpan.FromSeconds(5)).EmitWithAckAsync<JsonElement>("ask", new { a = 6, b = 7 });
            await socket.EmitAsync("asked-result", answer.GetProperty("answer").GetInt32());
        }
        var (server, _) = await StartAsync(io => io.OnConnection(socket => { var asking = AskAsync(socket); }));
        await using var _ = server;
        var run = (await NodeClient.RunAsync("acks", server.Url, new { parser = "msgpack" })).EnsureDone();
        Assert.Equal(5, run.Step("sum").GetProperty("sum").GetInt32());
        Assert.Equal(6, run.Step("asked").GetProperty("question").GetProperty("a").GetInt32());
        Assert.Equal(42, run.Step("server-got").GetProperty("server").GetInt32());
    }

    [Theory]
    [InlineData("polling")]
    [InlineData("websocket")]
    public async Task Binary_travels_both_ways_as_bin(string transport)
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("binary", server.Url, new { parser = "msgpack", client = new { transports = new[] { transport } } })).EnsureDone();
        var reply = run.Step("reply");
        Assert.Equal(4, reply.GetProperty("length").GetInt32());
        Assert.Equal([255, 3, 2, 1], reply.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
        Assert.Equal("héllo", reply.GetProperty("nested").GetString());
        var pushed = run.Step("server-binary");
        Assert.Equal([9, 8, 7], pushed.GetProperty("data").EnumerateArray().Select(b => b.GetInt32()));
        Assert.Equal([0, 1, 2], pushed.GetProperty("meta").GetProperty("payload").EnumerateArray().Select(b => b.GetInt32()));
    }

    [Fact]
    public async Task Rooms_and_broadcasts_reach_exactly_their_sockets()
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("rooms", server.Url, new { parser = "msgpack" })).EnsureDone();
        var received = run.Step("received").GetProperty("received");
        string[] Events(string who) => received.GetProperty(who).EnumerateArray().Select(e => e[0].GetString()!).ToArray();
        Assert.Contains("user-said", Events("bob"));
        Assert.DoesNotContain("user-said", Events("alice"));
        Assert.DoesNotContain("user-said", Events("carol"));
        Assert.Equal("hi room", received.GetProperty("bob").EnumerateArray().First(e => e[0].GetString() == "user-said")[2].GetString());
        Assert.All(new[] { "alice", "bob", "carol" }, who => Assert.Contains("announce", Events(who)));
        Assert.DoesNotContain("from-other", Events("carol"));
        Assert.Contains("from-other", Events("alice"));
    }

    [Fact]
    public async Task A_namespace_sees_the_auth_payload_of_the_connect()
    {
        var (server, _) = await StartAsync(io =>
        {
            var admin = io.Of("/admin");
            admin.Use(socket => { socket.Data["user"] = socket.Handshake.GetAuth<JsonElement>().GetProperty("user").GetString(); });
            admin.OnConnection(socket => socket.EmitAsync("welcome", $"hello {socket.Data["user"]} in {socket.Namespace.Name}"));
        });
        await using var _ = server;
        var run = (await NodeClient.RunAsync("namespace", server.Url, new { parser = "msgpack", path = "/admin", auth = new { user = "ada" } })).EnsureDone();
        Assert.Equal("hello ada in /admin", run.Step("welcome").GetProperty("welcome").GetString());
    }

    [Fact]
    public async Task Middleware_refusal_is_a_connect_error_with_message_and_data()
    {
        var (server, _) = await StartAsync(io => io.Use(socket =>
        {
            if (socket.Handshake.Auth?.GetProperty("token").GetString() != "secret")
                throw new SocketIOConnectRefusedException("not authorized", new { code = 401, blob = new byte[] { 7 } });
        }));
        await using var _ = server;
        var run = (await NodeClient.RunAsync("refused", server.Url, new { parser = "msgpack", auth = new { token = "wrong" } })).EnsureDone();
        var error = run.Step("connect_error");
        Assert.Equal("not authorized", error.GetProperty("message").GetString());
        Assert.Equal(401, error.GetProperty("data").GetProperty("code").GetInt32());
        // Bytes in the error's data are bin (a Buffer in node; JSON.stringify reports it as {type, data}).
        Assert.Equal(7, error.GetProperty("data").GetProperty("blob").GetProperty("data")[0].GetInt32());
    }

    [Fact]
    public async Task An_unknown_namespace_is_refused_with_Invalid_namespace()
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        var run = (await NodeClient.RunAsync("refused", server.Url, new { parser = "msgpack", path = "/nowhere" })).EnsureDone();
        Assert.Equal("Invalid namespace", run.Step("connect_error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_client_with_the_default_parser_is_closed_as_a_parse_error()
    {
        var (server, _) = await StartAsync();
        await using var _ = server;
        // Its CONNECT is text, which the msgpack parser never sends: the connection closes, no namespace joins.
        var run = (await NodeClient.RunAsync("refused", server.Url, new { client = new { transports = new[] { "websocket" } }, timeoutMs = 3000 }));
        Assert.Empty(run.All("connect_error"));
        Assert.Empty(server.IO.Sockets.Sockets);
    }
}
