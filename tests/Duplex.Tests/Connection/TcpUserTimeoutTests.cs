using System.Net;
using System.Net.Sockets;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

/// <summary>TCP_USER_TIMEOUT from the keep-alive times, checked on a real loopback socket (Linux).</summary>
public class TcpUserTimeoutTests
{
    private static WebSocketConnectionOptions Options(TimeSpan interval, TimeSpan timeout) =>
        new() { KeepAliveInterval = interval, KeepAliveTimeout = timeout };

    [Fact]
    public void The_kernel_timeout_is_interval_plus_timeout_in_milliseconds()
    {
        Assert.Equal(4000, TcpUserTimeout.For(Options(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2))));
        Assert.Equal(60_000, TcpUserTimeout.For(new WebSocketConnectionOptions()));
        Assert.Equal(1, TcpUserTimeout.For(Options(TimeSpan.FromTicks(1), TimeSpan.FromTicks(1)))); // rounded up: never 0, the kernel's "none"
        Assert.Equal(int.MaxValue, TcpUserTimeout.For(Options(TimeSpan.FromDays(20), TimeSpan.FromDays(20))));
    }

    [Fact]
    public void There_is_no_kernel_timeout_without_a_keep_alive_timeout_or_without_the_heartbeat()
    {
        Assert.Null(TcpUserTimeout.For(Options(TimeSpan.FromSeconds(2), TimeSpan.Zero)));
        Assert.Null(TcpUserTimeout.For(Options(TimeSpan.FromSeconds(2), Timeout.InfiniteTimeSpan)));
        Assert.Null(TcpUserTimeout.For(Options(TimeSpan.Zero, TimeSpan.FromSeconds(2))));
        Assert.Null(TcpUserTimeout.For(Options(Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(2))));
    }

    [Fact]
    public async Task Apply_sets_tcp_user_timeout_on_a_linux_socket()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (client, server) = await PairAsync();
        using var _c = client;
        using var _s = server;
        var logger = new CapturingLogger();

        Assert.Equal(0, Read(server)); // the kernel's default: none
        TcpUserTimeout.Apply(server, Options(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3)), logger);
        TcpUserTimeout.Apply(client, new WebSocketConnectionOptions(), logger);
        Assert.Equal(5000, Read(server));
        Assert.Equal(60_000, Read(client));
        Assert.Empty(logger.Entries);
    }

    [Fact]
    public async Task Apply_leaves_the_socket_alone_without_a_keep_alive_timeout()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (client, server) = await PairAsync();
        using var _c = client;
        using var _s = server;
        TcpUserTimeout.Apply(server, Options(TimeSpan.FromSeconds(2), TimeSpan.Zero), new CapturingLogger());
        Assert.Equal(0, Read(server));
    }

    [Fact]
    public async Task A_socket_that_cannot_take_the_option_is_logged_at_debug_not_thrown()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (client, server) = await PairAsync();
        client.Dispose();
        server.Dispose();
        var logger = new CapturingLogger();
        TcpUserTimeout.Apply(server, new WebSocketConnectionOptions(), logger);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, entry.Level);
        Assert.Contains("TCP_USER_TIMEOUT", entry.Message);
    }

    [Fact]
    public async Task A_send_stuck_on_a_frozen_peer_with_a_full_window_is_aborted_by_the_kernel()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (frozen, server) = await PairAsync();
        using var _c = frozen; // never reads: its receive window fills and stays shut
        using var _s = server;
        TcpUserTimeout.Apply(server, Options(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500)), new CapturingLogger());
        Assert.Equal(1000, Read(server));

        // Send until a send stops completing (both socket buffers full), then wait for that send to end.
        var chunk = new byte[64 * 1024];
        long sent = 0;
        Task<int> send;
        while (true)
        {
            send = server.SendAsync(chunk, SocketFlags.None);
            if (await Task.WhenAny(send, Task.Delay(200)) != send) break;
            sent += await send;
            Assert.True(sent < 512L * 1024 * 1024, "the frozen peer's window never filled");
        }
        // Only the kernel ends this send: nothing in the test disposes the socket before the guard.
        var error = await Assert.ThrowsAsync<SocketException>(() => send.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
    }

    private static int Read(Socket socket)
    {
        var value = new byte[sizeof(int)];
        Assert.Equal(sizeof(int), socket.GetRawSocketOption(TcpUserTimeout.Level, TcpUserTimeout.Option, value));
        return BitConverter.ToInt32(value);
    }

    private static async Task<(Socket Client, Socket Server)> PairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(TimeSpan.FromSeconds(5));
        var server = await accept.WaitAsync(TimeSpan.FromSeconds(5));
        return (client, server);
    }
}
