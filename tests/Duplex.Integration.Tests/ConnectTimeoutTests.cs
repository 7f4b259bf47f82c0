using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Duplex.Integration.Tests;

/// <summary>A connect that runs out of <see cref="WebSocketClientOptions.ConnectTimeout"/> fails the same way in every step.</summary>
public class ConnectTimeoutTests
{
    [Theory]
    [InlineData("ws", "the WebSocket handshake")]
    [InlineData("wss", "the TLS handshake")]
    public async Task Server_that_accepts_and_never_answers_times_out_with_TimeoutException(string scheme, string step)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptSocketAsync(); // accepted, then silent: no TLS hello, no HTTP answer
        var options = new WebSocketClientOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<TimeoutException>(() => WebSocketClient.ConnectAsync(new Uri($"{scheme}://127.0.0.1:{port}/"), options).WaitAsync(TimeSpan.FromSeconds(10)));
        // The step named, so this is the connect's own timeout, not the test's WaitAsync.
        Assert.Contains(step, error.Message);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(8));
        (await accepted).Dispose();
    }

    [Fact]
    public async Task Timeout_during_the_tcp_connect_throws_TimeoutException()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // A zero timeout expires before the TCP connect can finish, even on loopback.
        var options = new WebSocketClientOptions { ConnectTimeout = TimeSpan.Zero };
        var error = await Assert.ThrowsAsync<TimeoutException>(() => WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), options).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("the TCP connect", error.Message);
    }

    [Fact]
    public void Timeouts_are_retried_by_the_default_rule()
    {
        Assert.True(ReconnectOptions.IsTransient(new TimeoutException()));
    }
}
