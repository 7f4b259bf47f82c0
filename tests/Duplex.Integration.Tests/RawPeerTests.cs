using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;

namespace Duplex.Integration.Tests;

/// <summary>Peers that misbehave at the TCP level, played by raw sockets.</summary>
public class RawPeerTests
{
    private static async Task<NetworkStream> RawHandshakeAsync(Uri ws)
    {
        var (stream, head) = await RawPeer.ConnectAsync(ws);
        Assert.StartsWith("HTTP/1.1 101", head);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head);
        return stream;
    }

    [Fact]
    public async Task Server_drops_a_peer_that_never_answers_its_close()
    {
        var closed = new TaskCompletionSource<(WebSocketState, CloseStatus?, TimeSpan)>();
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/ws", async c =>
        {
            var started = Stopwatch.StartNew();
            await c.CloseAsync(CloseStatus.NormalClosure, "bye");
            closed.TrySetResult((c.State, c.CloseStatus, started.Elapsed));
        }, o => o.Connection.CloseTimeout = TimeSpan.FromMilliseconds(500)));
        using var stream = await RawHandshakeAsync(server.WebSocketUri("/ws"));
        // The server's close frame arrives; we never answer it.
        var buffer = new byte[64];
        int n = await stream.ReadAsync(buffer);
        Assert.True(n >= 2);
        Assert.Equal(0x88, buffer[0]);
        var (state, status, elapsed) = await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketState.Aborted, state);
        Assert.Equal(CloseStatus.AbnormalClosure, status);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        // And TCP is closed from the server's side.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) { }
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task Client_closes_tcp_itself_when_the_server_never_does()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serverSide = Task.Run(async () =>
        {
            using var stream = await RawPeer.AcceptAsync(listener);
            // Read the client's close frame (masked, 2 + 4 + payload bytes), answer it, keep TCP open.
            var frame = new byte[256];
            int n = await stream.ReadAsync(frame);
            await stream.WriteAsync(new byte[] { 0x88, 0x02, 0x03, 0xE8 });
            // Wait for the client to give up and close TCP.
            while (await stream.ReadAsync(frame) > 0) { }
            return n;
        });
        var options = new WebSocketClientOptions { Connection = { CloseTimeout = TimeSpan.FromMilliseconds(500) } };
        var client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), options);
        var started = Stopwatch.StartNew();
        await client.CloseAsync();
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(CloseStatus.NormalClosure, client.CloseStatus);
        Assert.True(await serverSide.WaitAsync(TimeSpan.FromSeconds(10)) >= 6);
    }

    [Fact]
    public async Task Unmasked_client_frame_is_failed_with_1002()
    {
        await using var server = await TestServer.StartEchoAsync();
        using var stream = await RawHandshakeAsync(server.WebSocketUri("/echo"));
        await stream.WriteAsync(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' });
        var buffer = new byte[64];
        int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(n >= 4);
        Assert.Equal(0x88, buffer[0]);
        Assert.Equal(1002, (buffer[2] << 8) | buffer[3]);
    }
}
