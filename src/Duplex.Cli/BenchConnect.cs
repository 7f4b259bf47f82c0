namespace Duplex.Cli;

/// <summary>Opens many load-generator connections, a bounded number at a time so the listen backlog is not flooded.</summary>
internal static class BenchConnect
{
    public static async Task<List<BenchSocket>> OpenAsync(BenchOptions options, int count, BenchResult result, CancellationToken cancellationToken, int firstIndex = 0, BenchTarget? target = null)
    {
        var sockets = new BenchSocket?[count];
        int next = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Connecting is bounded too: 10 s plus a little per connection.
        timeout.CancelAfter(TimeSpan.FromSeconds(10 + count / 500.0));
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < count)
            {
                try
                {
                    sockets[i] = await BenchSocket.ConnectAsync(target ?? options.Target, options.SourceFor(firstIndex + i), options.Compression, timeout.Token);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || timeout.IsCancellationRequested)
                {
                    result.RecordError(ex is OperationCanceledException ? new BenchException("connect timed out") : ex);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(options.ConnectParallelism, count)).Select(_ => Task.Run(Worker)));
        return sockets.Where(s => s is not null).ToList()!;
    }
}
