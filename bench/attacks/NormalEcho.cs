using System.Diagnostics;
using Duplex.SocketIO.Client;

namespace Duplex.Attacks;

/// <summary>
/// The well-behaved client beside an attack: one echo round trip at a time, 10 ms apart, each timed.
/// Over WebSocket to an echo path, or a Socket.IO acknowledged "echo" for the Engine.IO attacks.
/// </summary>
internal sealed class NormalEcho : IAsyncDisposable
{
    private readonly Func<string, Task<string>> _echo;
    private readonly Func<ValueTask> _dispose;
    private readonly List<double> _latencies = [];
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private int _errors;
    private int _sequence;

    private NormalEcho(Func<string, Task<string>> echo, Func<ValueTask> dispose)
    {
        _echo = echo;
        _dispose = dispose;
    }

    public static async Task<NormalEcho> WebSocketAsync(Uri uri)
    {
        var client = await WebSocketClient.ConnectAsync(uri);
        var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        return new NormalEcho(async text =>
        {
            await client.SendTextAsync(text);
            if (!await messages.MoveNextAsync()) throw new IOException("the normal client's connection ended");
            return messages.Current.Text;
        }, async () =>
        {
            await messages.DisposeAsync();
            await client.DisposeAsync();
        });
    }

    public static async Task<NormalEcho> SocketIOAsync(Uri server)
    {
        var client = new SocketIOClient(server, new SocketIOClientOptions { Reconnection = false, Transports = ["websocket"] });
        using var connecting = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await client.ConnectAsync(connecting.Token);
        return new NormalEcho(async text => (await client.Timeout(TimeSpan.FromSeconds(30)).EmitWithAckAsync("echo", text)).Get<string>(0)!, client.DisposeAsync);
    }

    public async Task WarmUpAsync(int count)
    {
        for (int i = 0; i < count; i++) await OneAsync(record: false);
    }

    public void Start()
    {
        _stop = new CancellationTokenSource();
        var token = _stop.Token;
        _loop = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                await OneAsync(record: true);
                await Task.Delay(10, CancellationToken.None);
            }
        });
    }

    private async Task OneAsync(bool record)
    {
        var text = $"normal {++_sequence}";
        var started = Stopwatch.GetTimestamp();
        try
        {
            var echo = await _echo(text).WaitAsync(TimeSpan.FromSeconds(30));
            if (echo != text) throw new InvalidDataException($"echo {echo} for {text}");
            if (record)
                lock (_latencies) _latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception) when (record)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    /// <summary>Stops the loop: echoes, errors, p50, p99 and max in ms.</summary>
    public async Task<(int Echoes, int Errors, double P50, double P99, double Max)> StopAsync()
    {
        _stop!.Cancel();
        await _loop!;
        double[] sorted;
        lock (_latencies) sorted = [.. _latencies.Order()];
        double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return (sorted.Length, _errors, At(0.50), At(0.99), sorted.Length == 0 ? double.NaN : sorted[^1]);
    }

    public ValueTask DisposeAsync() => _dispose();
}
