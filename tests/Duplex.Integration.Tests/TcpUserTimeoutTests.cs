using System.Net.Sockets;
using System.Reflection;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;

namespace Duplex.Integration.Tests;

/// <summary>Both ends of a real connection carry TCP_USER_TIMEOUT = interval + timeout (Linux).</summary>
public class TcpUserTimeoutTests
{
    private static int Read(Socket socket)
    {
        var value = new byte[sizeof(int)];
        socket.GetRawSocketOption(6, 18, value);
        return BitConverter.ToInt32(value);
    }

    [Fact]
    public async Task The_server_sets_the_user_timeout_of_the_upgraded_socket_from_its_keep_alive()
    {
        if (!OperatingSystem.IsLinux()) return;
        var seen = new TaskCompletionSource<int>();
        await using var server = await TestServer.StartAsync(app =>
        {
            // The handler sees the request's Items; the socket rides along to it.
            app.Use((context, next) =>
            {
                context.Items["socket"] = context.Features.Get<IConnectionSocketFeature>()?.Socket;
                return next(context);
            });
            app.MapWebSocket("/ws", async c =>
            {
                seen.TrySetResult(c.Items.TryGetValue("socket", out var s) && s is Socket socket ? Read(socket) : -1);
                await foreach (var _ in c.ReadMessagesAsync()) { }
            }, o =>
            {
                o.Connection.KeepAliveInterval = TimeSpan.FromSeconds(7);
                o.Connection.KeepAliveTimeout = TimeSpan.FromSeconds(4);
            });
        });
        var options = new WebSocketClientOptions { Connection = { KeepAliveInterval = TimeSpan.Zero } };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"), options);
        Assert.Equal(11_000, await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await client.CloseAsync();
    }

    [Fact]
    public async Task The_fast_path_sets_the_user_timeout_of_the_upgraded_socket_from_its_keep_alive()
    {
        if (!OperatingSystem.IsLinux()) return;
        var sockets = new System.Collections.Concurrent.ConcurrentDictionary<string, Socket?>();
        bool httpLayer = false;
        var seen = new TaskCompletionSource<int>();
        await using var server = await TestServer.StartAsync(app =>
        {
            app.Use((context, next) => { httpLayer = true; return next(context); });
            app.MapWebSocket("/ws", async c =>
            {
                seen.TrySetResult(sockets.TryGetValue(c.RemoteEndPoint!.ToString()!, out var socket) && socket is not null ? Read(socket) : -1);
                await foreach (var _ in c.ReadMessagesAsync()) { }
            }, o =>
            {
                o.Connection.KeepAliveInterval = TimeSpan.FromSeconds(5);
                o.Connection.KeepAliveTimeout = TimeSpan.FromSeconds(1);
            });
        }, fastPath: true, listen: l => l.Use(next => context =>
        {
            sockets[context.RemoteEndPoint!.ToString()!] = context.Features.Get<IConnectionSocketFeature>()?.Socket;
            return next(context);
        }));
        var options = new WebSocketClientOptions { Connection = { KeepAliveInterval = TimeSpan.Zero } };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/ws"), options);
        Assert.Equal(6000, await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(httpLayer, "the upgrade went through ASP.NET Core, not the fast path");
        await client.CloseAsync();
    }

    [Theory]
    [InlineData(3, 2, 5000)]
    [InlineData(3, 0, 0)]
    public async Task The_client_sets_the_user_timeout_of_its_socket_when_a_keep_alive_timeout_is_set(int intervalSeconds, int timeoutSeconds, int expected)
    {
        if (!OperatingSystem.IsLinux()) return;
        await using var server = await TestServer.StartEchoAsync();
        var options = new WebSocketClientOptions
        {
            Connection = { KeepAliveInterval = TimeSpan.FromSeconds(intervalSeconds), KeepAliveTimeout = TimeSpan.FromSeconds(timeoutSeconds) },
        };
        await using var client = await WebSocketClient.ConnectAsync(server.WebSocketUri("/echo"), options);
        Assert.Equal(expected, Read(ClientSocket(client)));
        await client.CloseAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_send_stuck_on_a_frozen_peer_with_a_full_window_ends_and_the_connection_is_dropped(bool fastPath)
    {
        var ended = new TaskCompletionSource<(Exception? Error, long Sent, WebSocketState State)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(app => app.MapWebSocket("/feed", async c =>
        {
            var chunk = new byte[64 * 1024];
            long sent = 0;
            try
            {
                // Bounded: 512 MiB can never fit in the buffers of a peer that does not read.
                while (sent < 512L * 1024 * 1024)
                {
                    await c.SendAsync(chunk, WebSocketMessageType.Binary);
                    sent += chunk.Length;
                }
                ended.TrySetResult((null, sent, c.State));
            }
            catch (Exception ex)
            {
                await c.Completion.WaitAsync(TimeSpan.FromSeconds(10));
                ended.TrySetResult((ex, sent, c.State));
            }
        }, o =>
        {
            o.Connection.KeepAliveInterval = TimeSpan.FromMilliseconds(500);
            o.Connection.KeepAliveTimeout = TimeSpan.FromMilliseconds(500);
            o.Connection.MaxBufferedBytes = 64L * 1024 * 1024;
        }), fastPath: fastPath);

        // The frozen peer: upgrades, then never reads or sends again (a SIGSTOPped process, a dead host
        // whose kernel still acknowledges with a zero window).
        var (frozen, head) = await RawPeer.ConnectAsync(server.WebSocketUri("/feed"), receiveBufferSize: 4096);
        using var _ = frozen;
        Assert.StartsWith("HTTP/1.1 101", head);

        var (error, sent, state) = await ended.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(error);                       // the stuck send did not wait forever
        Assert.True(sent < 512L * 1024 * 1024);
        Assert.Equal(WebSocketState.Aborted, state); // dropped, not closed with a handshake the peer never reads
    }

    // The client's socket is not public: it is the stream that the connection's close callback disposes.
    private static Socket ClientSocket(WebSocketConnection connection)
    {
        var close = (Delegate)typeof(WebSocketConnection).GetField("_closeTransport", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(connection)!;
        var target = close.Target!;
        foreach (var field in target.GetType().GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            if (field.GetValue(target) is NetworkStream stream) return stream.Socket;
        throw new InvalidOperationException("the client's transport is not a NetworkStream");
    }
}
