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

    private static async Task<string> NextTextAsync(WebSocketConnection client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var message in client.ReadMessagesAsync(cts.Token)) return message.Text;
        throw new InvalidOperationException("the connection ended before a message came");
    }

    [Fact]
    public async Task Duplex_client_over_h2c_reaches_a_duplex_endpoint_with_subprotocol_and_compression()
    {
        var seen = new List<(string Protocol, string Method)>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async (c, ctx) =>
        {
            lock (seen) seen.Add((ctx.Request.Protocol, ctx.Request.Method));
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }, o =>
        {
            o.SelectSubprotocol = offered => offered.Contains("chat.v2") ? "chat.v2" : null;
            o.Connection.Compression.Enabled = true;
        }), http2: true);
        var options = new WebSocketClientOptions { HttpVersion = HttpVersion.Version20 };
        options.Subprotocols.Add("chat.v1");
        options.Subprotocols.Add("chat.v2");
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        Assert.Equal("chat.v2", client.Subprotocol);
        Assert.NotNull(client.Compression);
        Assert.Equal(200, client.HandshakeResponse!.StatusCode);

        var text = string.Concat(Enumerable.Repeat("over h2 from Duplex ✓ ", 4000));
        await client.SendTextAsync(text);
        Assert.Equal(text, await NextTextAsync(client));
        await client.CloseAsync();
        Assert.Equal(Duplex.Protocol.CloseStatus.NormalClosure, client.CloseStatus);
        lock (seen) Assert.Equal([("HTTP/2", "CONNECT")], seen);
    }

    [Fact]
    public async Task Duplex_client_over_h2_with_tls_reaches_aspnetcores_own_websockets()
    {
        using var certificate = Interop.Certificates.Server();
        await using var server = await TestServer.StartAsync(app =>
        {
            app.UseWebSockets();
            app.Map("/aspnet", async (Microsoft.AspNetCore.Http.HttpContext context) =>
            {
                if (!context.WebSockets.IsWebSocketRequest) { context.Response.StatusCode = 400; return; }
                using var ws = await context.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[64 * 1024];
                var hello = Encoding.UTF8.GetBytes(context.Request.Protocol);
                await ws.SendAsync(hello, System.Net.WebSockets.WebSocketMessageType.Text, true, default);
                while (true)
                {
                    var result = await ws.ReceiveAsync(buffer, default);
                    if (result.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                    {
                        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
                        return;
                    }
                    await ws.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, default);
                }
            });
        }, certificate, http2: true);
        var options = new WebSocketClientOptions
        {
            HttpVersion = HttpVersion.Version20,
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString(),
        };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/aspnet"), options);
        Assert.Equal("HTTP/2", await NextTextAsync(client));
        await client.SendTextAsync("echo through Kestrel's WebSocket");
        Assert.Equal("echo through Kestrel's WebSocket", await NextTextAsync(client));
        await client.CloseAsync();
        Assert.Equal(Duplex.Protocol.CloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task WebSockets_opened_with_one_invoker_share_one_http2_connection()
    {
        var connections = new List<string>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/echo", async (c, ctx) =>
        {
            lock (connections) connections.Add(ctx.Connection.Id);
            await foreach (var m in c.ReadMessagesAsync()) await c.SendAsync(m);
        }), http2: true);
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        var options = new WebSocketClientOptions { HttpVersion = HttpVersion.Version20, HttpInvoker = invoker };
        await using var a = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        await using var b = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        await a.SendTextAsync("a");
        await b.SendTextAsync("b");
        Assert.Equal("a", await NextTextAsync(a));
        Assert.Equal("b", await NextTextAsync(b));
        lock (connections) Assert.Single(connections.Distinct()); // two streams of one HTTP/2 connection
        await a.CloseAsync();
        await b.CloseAsync();
    }

    [Fact]
    public async Task Without_http2_on_the_server_exact_fails_and_or_lower_falls_back_to_http11()
    {
        await using var server = await TestServer.StartEchoAsync(); // HTTP/1.1 only
        var exact = new WebSocketClientOptions { HttpVersion = HttpVersion.Version20, ConnectTimeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpIOException>(() => WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), exact)); // HTTP_1_1_REQUIRED

        var orLower = new WebSocketClientOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), orLower);
        Assert.Equal(101, client.HandshakeResponse!.StatusCode);
        await client.SendTextAsync("over 1.1");
        Assert.Equal("over 1.1", await NextTextAsync(client));
        await client.CloseAsync();
    }
}
