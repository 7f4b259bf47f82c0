using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Duplex.Integration.Tests.Infrastructure;
using Duplex.Protocol;
using Xunit.Abstractions;

namespace Duplex.Integration.Tests;

/// <summary>The reconnecting client's sender, measured by the CPU it burns, so no other test runs beside it.</summary>
[Collection(nameof(ReconnectSendLoopTests))]
[CollectionDefinition(nameof(ReconnectSendLoopTests), DisableParallelization = true)]
public class ReconnectSendLoopTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Send_loop_waits_without_spinning_while_a_connection_closes()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var release = new TaskCompletionSource();
        var serverSide = Task.Run(async () =>
        {
            using var stream = await RawPeer.AcceptAsync(listener);
            // Close with 1000, read the client's answer, then keep TCP open: the client waits for
            // the server to end TCP (RFC 6455 §7.1.1), up to its close timeout.
            await stream.WriteAsync(new byte[] { 0x88, 0x02, 0x03, 0xE8 });
            var frame = new byte[256];
            _ = await stream.ReadAsync(frame);
            await release.Task;
        });
        var options = new ReconnectOptions
        {
            Client = new WebSocketClientOptions { Connection = { CloseTimeout = TimeSpan.FromSeconds(15) } },
        };
        await using var client = new ReconnectingWebSocket(new Uri($"ws://127.0.0.1:{port}/"), options);
        await client.StartAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await ReconnectTests.WaitForAsync(() => client.Current is { State: not WebSocketState.Open }, "the close to start");
        Assert.NotNull(client.Current); // still closing: this is the window that matters

        var send = client.SendTextAsync("during the close");
        await Task.Delay(200);
        // A spinning sender never yields its thread (every await in its loop is already complete), so
        // the busiest thread's CPU tells it apart from a waiting one far better than the whole
        // process's, which JIT tiering and the rest of the runtime blur.
        var before = ThreadTimes();
        var clock = Stopwatch.StartNew();
        await Task.Delay(1500);
        var after = ThreadTimes();
        var wall = clock.Elapsed;
        var busiest = after.Where(t => before.ContainsKey(t.Key)).Select(t => t.Value - before[t.Key]).DefaultIfEmpty().Max();
        output.WriteLine($"busiest thread: {busiest.TotalMilliseconds:0} ms of CPU in {wall.TotalMilliseconds:0} ms while the connection closed");
        Assert.NotNull(client.Current);
        Assert.False(send.IsCompleted);
        Assert.True(busiest < wall * 0.25, $"a thread used {busiest.TotalMilliseconds:0} ms of CPU in {wall.TotalMilliseconds:0} ms while the sender should wait");

        // The server ends TCP; 1000 is not reconnected after, so the queued message fails, and says why.
        release.SetResult();
        await serverSide.WaitAsync(TimeSpan.FromSeconds(10));
        var closed = await Assert.ThrowsAsync<WebSocketClosedException>(() => send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(CloseStatus.NormalClosure, closed.CloseStatus);
    }

    private static Dictionary<int, TimeSpan> ThreadTimes()
    {
        var times = new Dictionary<int, TimeSpan>();
        using var process = Process.GetCurrentProcess();
        foreach (ProcessThread thread in process.Threads)
        {
            try
            {
                // The JIT's tier-up thread keeps compiling for seconds after new code paths run; it is
                // not where the sender runs, and it would blur the measure (Linux names threads in comm).
                var comm = $"/proc/self/task/{thread.Id}/comm";
                if (File.Exists(comm) && File.ReadAllText(comm).StartsWith(".NET Tiered", StringComparison.Ordinal)) continue;
                times[thread.Id] = thread.TotalProcessorTime;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
            {
                // The thread ended between listing and reading.
            }
        }
        return times;
    }
}
