using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Duplex.Integration.Tests.Interop;

namespace Duplex.Integration.Tests.Transport;

/// <summary>
/// `duplex serve` (on Duplex's socket transport) run out of file descriptors: accepting fails with
/// EMFILE for as long as the connections stay open. The server must say so, must not spin on the
/// error, and must take connections again once descriptors are free.
/// </summary>
public sealed partial class AcceptLimitTests
{
    [Fact]
    public async Task Out_of_descriptors_the_server_logs_backs_off_and_recovers()
    {
        // bash's ulimit sets the hard limit too, so the runtime cannot raise it at start.
        var command = $"ulimit -n 300 && exec \"{InteropPeers.Dotnet}\" \"{InteropPeers.DuplexCliDll}\" serve --host 127.0.0.1 --port 0";
        await using var serve = PeerProcess.Start("/bin/bash", "-c", command);
        var line = await serve.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(30));
        int port = int.Parse(ListeningLine().Match(line).Groups[1].Value);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        // Warm up first: the runtime loads assemblies on first use, and a load that fails for want of a
        // descriptor is remembered as failed for the life of the process.
        await EchoAsync(port, "before the storm");

        // More connections than the server has descriptors left: the kernel completes them (backlog),
        // the server's accepts start failing.
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 260; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(socket);
                await socket.ConnectAsync(endpoint).WaitAsync(TimeSpan.FromSeconds(10));
            }
            await serve.WaitForLineAsync(l => l.Contains("Accepting a connection", StringComparison.Ordinal) && l.Contains("retrying", StringComparison.Ordinal),
                TimeSpan.FromSeconds(15));

            // At the limit it waits between attempts instead of retrying flat out: well under half a core.
            var before = CpuTime(serve.Id);
            var clock = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(2));
            double share = (CpuTime(serve.Id) - before).TotalSeconds / clock.Elapsed.TotalSeconds;
            Assert.True(share < 0.5, $"the server used {share:P0} of a core while out of descriptors");
        }
        finally
        {
            foreach (var socket in held) socket.Dispose();
        }

        // Descriptors free again: a WebSocket echo works.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await EchoAsync(port, "after the storm");
                break;
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException && deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                // The backlog of closed connections is still being accepted and dropped.
                await Task.Delay(200);
            }
        }
    }

    private static async Task EchoAsync(int port, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await using var connection = await Duplex.WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/echo"), cancellationToken: timeout.Token);
        await connection.SendTextAsync(text, timeout.Token);
        string? echo = null;
        await foreach (var message in connection.ReadMessagesAsync(timeout.Token))
        {
            echo = message.Text;
            break;
        }
        Assert.Equal(text, echo);
    }

    /// <summary>utime + stime of a process, from /proc/&lt;pid&gt;/stat.</summary>
    private static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11]) + long.Parse(fields[12]); // fields 14 and 15 of the whole line
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
