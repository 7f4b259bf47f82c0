using System.Diagnostics;

namespace Duplex.Cli;

/// <summary>
/// <c>duplex bench handshake</c>: L loops each connecting, upgrading, and closing (close frame both
/// ways, then the socket) as fast as they can; handshakes/s and connect+upgrade latency.
/// <c>--close</c> says how a connection ends: <c>client</c> (the default) sends a close frame, waits
/// for the server's, then closes the socket itself; <c>server</c> sends a close frame, waits for the
/// server's and then for the server to close the TCP connection (RFC 6455 §7.1.1: the server closes
/// first, so the TIME_WAIT is the server's); <c>tcp</c> sends no close frame and closes the socket
/// right after the 101.
/// </summary>
internal static class BenchHandshake
{
    public static async Task<BenchResult> RunAsync(BenchOptions options)
    {
        var result = new BenchResult { Mode = "handshake", Unit = "handshake", Options = options, LatencyName = "connect+upgrade" };
        var window = new BenchWindow(options);
        var histogram = new BenchHistogram();
        var counts = new long[options.Connections * 8]; // one padded counter per loop
        int nextIndex = 0;

        async Task LoopAsync(int loop)
        {
            var buffer = new byte[512];
            while (!window.Stopping && window.Take(1) == 1)
            {
                var started = Stopwatch.GetTimestamp();
                BenchSocket? socket = null;
                try
                {
                    socket = await BenchSocket.ConnectAsync(options.Target, options.SourceFor(Interlocked.Increment(ref nextIndex)), options.Compression, window.Abort);
                    if (window.Measuring) histogram.Record((long)(Stopwatch.GetElapsedTime(started).Ticks * 100));
                    if (options.CloseMode == "tcp")
                    {
                        Volatile.Write(ref counts[loop * 8], counts[loop * 8] + 1);
                        continue;
                    }
                    await socket.SendAsync(BenchSocket.CloseFrame, window.Abort);
                    var closer = new CloseWaiter();
                    int leftover = socket.TakeLeftover(buffer);
                    closer.Consume(buffer.AsSpan(0, leftover));
                    while (!closer.CloseReceived)
                    {
                        int n = await socket.ReceiveAsync(buffer, window.Abort);
                        if (n == 0) throw new BenchException("server dropped the connection instead of answering the close frame");
                        closer.Consume(buffer.AsSpan(0, n));
                    }
                    if (options.CloseMode == "server")
                    {
                        // Nothing may follow the server's close frame; the next read is its FIN.
                        int n = await socket.ReceiveAsync(buffer, window.Abort);
                        if (n != 0) throw new BenchException("server sent data after its close frame");
                    }
                    Volatile.Write(ref counts[loop * 8], counts[loop * 8] + 1);
                }
                catch (OperationCanceledException) when (window.Abort.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    result.RecordError(ex);
                    if (result.Errors > 100) window.RequestAbort();
                }
                finally
                {
                    socket?.Dispose();
                }
            }
        }

        var load = Task.WhenAll(Enumerable.Range(0, options.Connections).Select(i => Task.Run(() => LoopAsync(i))));
        await window.RunAsync(() =>
        {
            long sum = 0;
            for (int i = 0; i < options.Connections; i++) sum += Volatile.Read(ref counts[i * 8]);
            return sum;
        }, load, "hs");
        result.Apply(window);
        result.Latency = histogram;
        return result;
    }

    private sealed class CloseWaiter : BenchFrameParser
    {
        protected override void OnMessageStart(bool text) { }
        protected override void OnMessageData(ReadOnlySpan<byte> data) { }
        protected override void OnMessageEnd() { }
    }
}
