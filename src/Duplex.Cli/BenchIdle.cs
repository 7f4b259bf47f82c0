using System.Diagnostics;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench idle</c>: open N connections, hold them for <c>--duration</c> (answering pings),
/// then close them all. With <c>--pid</c> it reports the server's resident memory per connection
/// (growth from a warmed-up baseline) and the CPU it spends holding them.
/// </summary>
internal static class BenchIdle
{
    public static async Task<BenchResult> RunAsync(BenchOptions options)
    {
        var result = new BenchResult { Mode = "idle", Unit = "connection", Options = options, LatencyName = "connect+upgrade" };
        using var abort = new CancellationTokenSource();
        var window = new BenchWindow(options);

        // Warm the server's handshake path first so its JIT and pools are not billed to the connections.
        foreach (var warm in await BenchConnect.OpenAsync(options, Math.Min(16, options.Connections), new BenchResult { Mode = "idle", Unit = "connection", Options = options }, abort.Token))
            await CloseAsync(warm, new BenchResult { Mode = "idle", Unit = "connection", Options = options }, TimeSpan.FromSeconds(5));
        await Task.Delay(500);
        var baseline = window.SampleServer();

        var opening = Stopwatch.GetTimestamp();
        var sockets = await BenchConnect.OpenAsync(options, options.Connections, result, abort.Token);
        double openSeconds = Stopwatch.GetElapsedTime(opening).TotalSeconds;
        var holders = sockets.Select(s => new Holder(s, result)).ToArray();
        var holding = holders.Select(h => Task.Run(() => h.RunAsync(abort.Token))).ToArray();

        // Let the server settle (its read loops start, first GCs happen) before the sample that counts.
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(2, options.Duration / 2)));
        var held = window.SampleServer();
        var holdStart = Stopwatch.GetTimestamp();
        for (var elapsed = TimeSpan.Zero; elapsed.TotalSeconds < options.Duration; elapsed = Stopwatch.GetElapsedTime(holdStart))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, (options.Duration - elapsed.TotalSeconds) * 1000 + 1)));
            if (options.Progress) Console.Error.Write($"\rholding {holders.Count(h => !h.Done):N0} connections  {elapsed.TotalSeconds:F1}/{options.Duration:F0} s ");
        }
        var end = window.SampleServer();
        double holdSeconds = Stopwatch.GetElapsedTime(holdStart).TotalSeconds;
        if (options.Progress) Console.Error.Write("\r" + new string(' ', 78) + "\r");
        int stillOpen = holders.Count(h => !h.Done);

        // Close them all, politely, a bounded number at a time and within a bound.
        using (var gate = new SemaphoreSlim(options.ConnectParallelism))
        {
            await Task.WhenAll(holders.Select(async h =>
            {
                await gate.WaitAsync();
                try { await h.CloseAsync(); } finally { gate.Release(); }
            }));
        }
        var allClosed = Task.WhenAll(holding);
        if (await Task.WhenAny(allClosed, Task.Delay(TimeSpan.FromSeconds(15))) != allClosed)
        {
            abort.Cancel();
            result.Drained = false;
        }
        foreach (var s in sockets) s.Dispose();

        result.Ops = stillOpen;
        result.Seconds = holdSeconds;
        result.Extras.Add(("opened", sockets.Count));
        result.Extras.Add(("open per s", openSeconds > 0 ? sockets.Count / openSeconds : 0));
        result.Extras.Add(("held to the end", stillOpen));
        if (baseline is { } b && held is { } h0 && end is { } e)
        {
            result.ServerStart = h0;
            result.ServerEnd = e;
            result.Extras.Add(("server rss baseline KiB", b.RssKiB));
            result.Extras.Add(("server KiB per connection", sockets.Count > 0 ? (e.RssKiB - b.RssKiB) / (double)sockets.Count : 0));
            result.Extras.Add(("server cpu us per s held", holdSeconds > 0 ? (e.CpuMicroseconds - h0.CpuMicroseconds) / holdSeconds : 0));
        }
        return result;
    }

    private static async Task CloseAsync(BenchSocket socket, BenchResult result, TimeSpan timeout)
    {
        var holder = new Holder(socket, result);
        using var cts = new CancellationTokenSource(timeout);
        var run = holder.RunAsync(cts.Token);
        await holder.CloseAsync();
        await run;
        socket.Dispose();
    }

    private sealed class Holder(BenchSocket socket, BenchResult result) : BenchFrameParser
    {
        public bool Done { get; private set; }

        protected override void OnMessageStart(bool text) { }
        protected override void OnMessageData(ReadOnlySpan<byte> data) { }
        protected override void OnMessageEnd() { }

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            try
            {
                var buffer = new byte[256];
                int leftover = socket.TakeLeftover(buffer);
                if (leftover > 0) Consume(buffer.AsSpan(0, leftover));
                while (!CloseReceived)
                {
                    int n = await socket.ReceiveAsync(buffer, cancellationToken);
                    if (n == 0) throw new BenchException("server dropped an idle connection");
                    Consume(buffer.AsSpan(0, n));
                    while (TryTakePong(out var pong)) await socket.SendAsync(pong, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                result.RecordError(ex);
            }
            finally
            {
                Done = true;
            }
        }

        public async Task CloseAsync()
        {
            try
            {
                await socket.SendAsync(BenchSocket.CloseFrame, CancellationToken.None);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
