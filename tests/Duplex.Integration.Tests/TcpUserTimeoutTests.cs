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
