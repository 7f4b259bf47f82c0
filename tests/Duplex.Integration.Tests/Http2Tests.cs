using System.Net;
using System.Net.WebSockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>WebSockets over HTTP/2 (RFC 8441), with .NET's own ClientWebSocket as the peer.</summary>
public class Http2Tests
{
    [Fact]
    public async Task ClientWebSocket_over_http2_extended_connect_echoes_through_a_duplex_endpoint()
    {
        var protocols = new List<string>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async (c, ctx) =>
        {
            lock (protocols) protocols.Add(ctx.Request.Protocol);
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, o => o.SelectSubprotocol = offered => offered.FirstOrDefault()), http2: true);

        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact; // h2c with prior knowledge
        socket.Options.AddSubProtocol("chat");
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(server.WebSocketUri("/echo"), invoker, cts.Token);
        Assert.Equal("chat", socket.SubProtocol);

        var payload = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("over h2 ✓ ", 5000)));
        await socket.SendAsync(payload, System.Net.WebSockets.WebSocketMessageType.Text, true, cts.Token);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(), cts.Token);
            received.Write(buffer, 0, result.Count);
        } while (!result.EndOfMessage);
        Assert.Equal(payload, received.ToArray());

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        lock (protocols) Assert.Equal(["HTTP/2"], protocols);
    }
}
