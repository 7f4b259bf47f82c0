using System.Diagnostics;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench idle</c>: open N connections, hold them for <c>--duration</c> (answering pings),
/// then close them all. With <c>--pid</c> it reports the server's resident memory per connection
/// and the CPU it spends holding them.
/// <para>
/// Memory is the slope between two levels: the first half of the N is opened and held, the server's
/// median RSS taken over a second; then the second half, and the median over the hold window; the
/// difference per connection of the second half is the figure. Measured against a baseline before
/// any connection, a garbage-collected server's figure moves with the startup garbage it happens to
/// collect meanwhile (runs gave ASP.NET Core anything from -1.6 to 18 KiB); the first half puts the
/// server in the state it serves in, and medians take out single collections.
/// </para>
/// </summary>
internal static class BenchIdle
{
    public static async Task<BenchResult> RunAsync(BenchOptions options)
    {
        var result = new BenchResult { Mode = "idle", Unit = "connection", Options = options, LatencyName = "connect+upgrade" };
        using var abort = new CancellationTokenSource();
        var window = new BenchWindow(options);

        // Warm the server's handshake path first so its JIT and pools are not billed to the connections.
        var warmResult = new BenchResult { Mode = "idle", Unit = "connection", Options = options };
        var warm = (await BenchConnect.OpenAsync(options, Math.Min(16, options.Connections), warmResult, abort.Token)).Select(s => new Holder(s, warmResult)).ToArray();
        var warmHolding = warm.Select(h => Task.Run(() => h.RunAsync(abort.Token))).ToArray();
        await CloseAllAsync(warm, warmHolding, options, abort);
        await Task.Delay(500);

        var opening = Stopwatch.GetTimestamp();
        int firstHalf = options.Connections / 2;
        var sockets = await BenchConnect.OpenAsync(options, firstHalf, result, abort.Token);
        double openSeconds = Stopwatch.GetElapsedTime(opening).TotalSeconds;
        var holding = new List<Task>();
        var holders = new List<Holder>();
        void Hold(IEnumerable<BenchSocket> opened)
        {
            foreach (var socket in opened)
            {
                var holder = new Holder(socket, result);
                holders.Add(holder);
                holding.Add(Task.Run(() => holder.RunAsync(abort.Token)));
            }
        }
        Hold(sockets);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var baseline = await MedianRssAsync(window, TimeSpan.FromSeconds(1));
        int baselineCount = sockets.Count;

        opening = Stopwatch.GetTimestamp();
        var more = await BenchConnect.OpenAsync(options, options.Connections - firstHalf, result, abort.Token, firstIndex: firstHalf);
        openSeconds += Stopwatch.GetElapsedTime(opening).TotalSeconds;
        sockets.AddRange(more);
        Hold(more);

        // Let the server settle (its read loops start, first GCs happen) before the window that counts.
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(2, options.Duration / 2)));
        var held = window.SampleServer();
        var rss = new List<long>();
        var holdStart = Stopwatch.GetTimestamp();
        for (var elapsed = TimeSpan.Zero; elapsed.TotalSeconds < options.Duration; elapsed = Stopwatch.GetElapsedTime(holdStart))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250, (options.Duration - elapsed.TotalSeconds) * 1000 + 1)));
            if (window.SampleServer() is { } sample) rss.Add(sample.RssKiB);
            if (options.Progress) Console.Error.Write($"\rholding {holders.Count(h => !h.Done):N0} connections  {elapsed.TotalSeconds:F1}/{options.Duration:F0} s ");
        }
        var end = window.SampleServer();
        double holdSeconds = Stopwatch.GetElapsedTime(holdStart).TotalSeconds;
        if (options.Progress) Console.Error.Write("\r" + new string(' ', 78) + "\r");
        int stillOpen = holders.Count(h => !h.Done);
        await CloseAllAsync([.. holders], [.. holding], options, abort, result);

        result.Ops = stillOpen;
        result.Seconds = holdSeconds;
        result.Extras.Add(("opened", sockets.Count));
        result.Extras.Add(("open per s", openSeconds > 0 ? sockets.Count / openSeconds : 0));
        result.Extras.Add(("held to the end", stillOpen));
        if (baseline is { } b && held is { } h0 && end is { } e && rss.Count > 0)
        {
            result.ServerStart = h0;
            result.ServerEnd = e;
            result.Extras.Add(("server rss baseline KiB", b));
            int added = sockets.Count - baselineCount;
            result.Extras.Add(("server KiB per connection", added > 0 ? (Median(rss) - b) / added : 0));
            result.Extras.Add(("server cpu us per s held", holdSeconds > 0 ? (e.CpuMicroseconds - h0.CpuMicroseconds) / holdSeconds : 0));
        }
        return result;
    }

    /// <summary>Closes every connection politely, a bounded number at a time, and waits (bounded) for the server's answers.</summary>
    private static async Task CloseAllAsync(Holder[] holders, Task[] holding, BenchOptions options, CancellationTokenSource abort, BenchResult? result = null)
    {
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
            if (result is not null) result.Drained = false;
        }
        foreach (var h in holders) h.Dispose();
    }

    private static async Task<double?> MedianRssAsync(BenchWindow window, TimeSpan over)
    {
        var samples = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            if (window.SampleServer() is { } sample) samples.Add(sample.RssKiB);
            await Task.Delay(over / 5);
        }
        return samples.Count > 0 ? Median(samples) : null;
    }

    private static double Median(List<long> values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2.0;
    }

    private sealed class Holder(BenchSocket socket, BenchResult result) : BenchFrameParser
    {
        public bool Done { get; private set; }

        public void Dispose() => socket.Dispose();

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
