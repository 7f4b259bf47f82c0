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
        // A listener whose accept queue is full and never drained: Linux then drops further SYNs, so a
        // connect to it cannot finish. (A zero timeout against a plain listener was not enough: on
        // loopback the connect sometimes won the race, and the timeout struck in a later step.)
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                _ = filler.ConnectAsync(endPoint).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            }
            await Task.Delay(200);
            var options = new WebSocketClientOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
            var error = await Assert.ThrowsAsync<TimeoutException>(() => WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{endPoint.Port}/"), options).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Contains("the TCP connect", error.Message);
        }
        finally
        {
            foreach (var filler in fillers) filler.Dispose();
        }
    }

    [Fact]
    public void Timeouts_are_retried_by_the_default_rule()
    {
        Assert.True(ReconnectOptions.IsTransient(new TimeoutException()));
    }
}
