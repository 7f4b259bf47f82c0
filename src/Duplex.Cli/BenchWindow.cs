using System.Diagnostics;

namespace Duplex.Cli;

/// <summary>
/// The measured window of a run: warm-up, then <c>--duration</c> seconds (or until <c>--messages</c>
/// are done), with the server's CPU and memory read at both ends. Load loops look at
/// <see cref="Measuring"/> to record latencies and at <see cref="Stopping"/> to stop by themselves;
/// <see cref="Abort"/> fires if they have not finished by the drain timeout.
/// </summary>
internal sealed class BenchWindow(BenchOptions options)
{
    private readonly CancellationTokenSource _abort = new();
    private readonly BenchServerProbe? _probe = options.ServerPid != 0 ? new BenchServerProbe(options.ServerPid) : null;
    private long _budget = long.MaxValue;
    private volatile bool _measuring;
    private volatile bool _stopping;

    public bool Measuring => _measuring;
    public bool Stopping => _stopping;
    public CancellationToken Abort => _abort.Token;

    public long Ops { get; private set; }
    public double Seconds { get; private set; }
    public BenchServerProbe.Sample? ServerStart { get; private set; }
    public BenchServerProbe.Sample? ServerEnd { get; private set; }
    public bool Drained { get; private set; } = true;

    /// <summary>Takes up to <paramref name="wanted"/> messages from the <c>--messages</c> budget; 0 once the run is over.</summary>
    public int Take(int wanted)
    {
        if (_stopping) return 0;
        if (!_measuring || options.Messages == 0) return wanted;
        while (true)
        {
            long left = Volatile.Read(ref _budget);
            if (left <= 0) return 0;
            long take = Math.Min(left, wanted);
            if (Interlocked.CompareExchange(ref _budget, left - take, left) == left) return (int)take;
        }
    }

    /// <summary>A load loop failed in a way that leaves the others waiting: stop the run now.</summary>
    public void RequestAbort()
    {
        _stopping = true;
        _abort.Cancel();
    }

    public BenchServerProbe.Sample? SampleServer() => _probe?.Read();

    /// <summary>Runs warm-up and the window while the load runs; returns once the load has finished (or been aborted).</summary>
    public async Task RunAsync(Func<long> opsSoFar, Task load, string unit)
    {
        if (options.Warmup > 0) await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(options.Warmup)));
        if (options.Messages > 0) Volatile.Write(ref _budget, options.Messages);
        long startOps = opsSoFar();
        ServerStart = _probe?.Read();
        long windowStart = Stopwatch.GetTimestamp();
        _measuring = true;

        var deadline = TimeSpan.FromSeconds(options.Duration);
        while (!load.IsCompleted)
        {
            var elapsed = Stopwatch.GetElapsedTime(windowStart);
            if (elapsed >= deadline) break;
            if (options.Messages > 0 && Volatile.Read(ref _budget) <= 0 && opsSoFar() - startOps >= options.Messages) break;
            var step = TimeSpan.FromMilliseconds(options.Messages > 0 ? 20 : 250);
            await Task.WhenAny(load, Task.Delay(step < deadline - elapsed ? step : deadline - elapsed));
            if (options.Progress) ProgressBar(elapsed.TotalSeconds, opsSoFar() - startOps, unit);
        }
        _measuring = false;
        long endOps = opsSoFar();
        ServerEnd = _probe?.Read();
        Seconds = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
        Ops = endOps - startOps;
        _stopping = true;
        if (options.Progress) Console.Error.Write("\r" + new string(' ', 78) + "\r");

        if (await Task.WhenAny(load, Task.Delay(options.DrainTimeout)) != load)
        {
            Drained = false;
            _abort.Cancel();
            await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    private void ProgressBar(double seconds, long ops, string unit)
    {
        const int width = 30;
        int filled = (int)Math.Clamp(seconds / options.Duration * width, 0, width);
        double rate = seconds > 0 ? ops / seconds : 0;
        Console.Error.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {seconds,5:F1}/{options.Duration:F0} s  {rate,12:N0} {unit}/s ");
    }
}
