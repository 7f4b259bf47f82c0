using System.Net;
using System.Text;
using System.Text.Json;
using Duplex.SocketIO.Client;
using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Client;
using Duplex.SocketIO.Tests.Infrastructure;

namespace Duplex.SocketIO.Tests;

/// <summary>A Duplex server with the msgpack parser, over raw polling: what it answers, and what bad input does.</summary>
public sealed class MsgPackServerTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static Task<SocketIOTestServer> StartAsync() =>
        SocketIOTestServer.StartAsync(io => io.OnConnection(socket => socket.On("echo", e => e.AckAsync(e.Args[0]))), o => o.Parser = SocketIOParser.MsgPack);

    private static string Polling(SocketIOTestServer server, string? sid = null) =>
        $"{server.Url}/socket.io/?EIO=4&transport=polling" + (sid is null ? "" : "&sid=" + sid);

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> HandshakeAsync(SocketIOTestServer server)
    {
        var (_, body) = await SendAsync(HttpMethod.Get, Polling(server));
        Assert.StartsWith("0", body);
        return JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString()!;
    }

    private static SocketIOPacket Read(string polled)
    {
        Assert.True(EnginePacket.TryParse(polled, out var message), polled);
        SocketIOPacket? partial = null;
        Assert.True(SocketIOParser.MsgPack.TryDecode(message, ref partial, out var packet, out var error), error);
        return packet!;
    }

    // {type: 0, nsp: "/"}, as socket.io-client with the msgpack parser sends its CONNECT (no auth).
    private const string Connect = "b" + "gqR0eXBlAKNuc3ChLw==";

    [Fact]
    public async Task Answers_a_connect_and_an_event_with_msgpack_messages()
    {
        await using var server = await StartAsync();
        string sid = await HandshakeAsync(server);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, Polling(server, sid), Connect)).Status);
        var answer = Read((await SendAsync(HttpMethod.Get, Polling(server, sid))).Body);
        Assert.Equal(SocketIOPacketType.Connect, answer.Type);
        Assert.Equal(20, answer.Data!.Value.GetProperty("sid").GetString()!.Length);

        var ev = SocketIOEncoder.Event(SocketIOParser.MsgPack, "/", "echo", ["hé"], 3, new SocketIOServer().JsonOptions)[0];
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, Polling(server, sid), ev.ToPollingText())).Status);
        var ack = Read((await SendAsync(HttpMethod.Get, Polling(server, sid))).Body);
        Assert.Equal(SocketIOPacketType.Ack, ack.Type);
        Assert.Equal(3, ack.Id);
        Assert.Equal("hé", ack.Data!.Value[0].GetString());
    }

    [Theory]
    [InlineData("4" + "0")] // a text CONNECT, as the default parser writes it
    [InlineData("b" + "gqR0eXBl")] // a map cut short
    [InlineData("b" + "g6R0eXBlAqNuc3ChL6RkYXRh2/////8=")] // data: a str 32 of 4 GiB in a 23-byte message
    public async Task A_malformed_packet_closes_the_session_and_nothing_connects(string payload)
    {
        await using var server = await StartAsync();
        string sid = await HandshakeAsync(server);
        await SendAsync(HttpMethod.Post, Polling(server, sid), payload);
        var (status, body) = await SendAsync(HttpMethod.Get, Polling(server, sid));
        // The session is gone: a poll gets the close packet, or 400 once it was already dropped.
        Assert.True(body == "1" || status == HttpStatusCode.BadRequest, $"{status} {body}");
        Assert.Equal(0, server.IO.Engine.ClientsCount);
        Assert.Empty(server.IO.Sockets.Sockets);
    }

    [Fact]
    public async Task The_csharp_client_with_the_msgpack_parser_talks_to_the_server_with_it()
    {
        await using var server = await SocketIOTestServer.StartAsync(io => io.OnConnection(socket =>
        {
            socket.On("echo", e => e.AckAsync(e.Args[0], e.Args.GetBytes(1)));
            socket.On("shout", e => io.EmitAsync("announce", e.Args.Get<string>(0), new byte[] { 4, 5 }));
        }), o => o.Parser = SocketIOParser.MsgPack);
        await using var client = new SocketIOClient(server.BaseUri, Waits.Fast(o => o.Parser = SocketIOParser.MsgPack));
        var announced = Waits.Signal<SocketIOClientEvent>();
        client.On("announce", e => announced.TrySetResult(e));
        await client.ConnectAsync(Waits.Deadline);
        var args = await client.Timeout(Waits.Long).EmitWithAckAsync("echo", new { n = -3, f = 0.5 }, new byte[] { 1, 2 });
        Assert.Equal(-3, args[0].GetProperty("n").GetInt32());
        Assert.Equal(0.5, args[0].GetProperty("f").GetDouble());
        Assert.Equal([1, 2], args.GetBytes(1));
        await client.EmitAsync("shout", "all");
        var e = await announced.Within("the broadcast");
        Assert.Equal("all", e.Args.Get<string>(0));
        Assert.Equal([4, 5], e.Args.GetBytes(1));
    }
}
