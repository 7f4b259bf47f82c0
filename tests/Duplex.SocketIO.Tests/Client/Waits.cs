using Duplex.SocketIO.Client;

namespace Duplex.SocketIO.Tests.Client;

/// <summary>Generous, bounded waits for the client tests (the machine may be busy).</summary>
internal static class Waits
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    /// <summary>A token cancelled after <see cref="Long"/>.</summary>
    public static CancellationToken Deadline => new CancellationTokenSource(Long).Token;

    /// <summary>Client options with quick reconnection, so reconnect tests take a fraction of a second.</summary>
    public static SocketIOClientOptions Fast(Action<SocketIOClientOptions>? configure = null)
    {
        var options = new SocketIOClientOptions
        {
            ReconnectionDelay = TimeSpan.FromMilliseconds(100),
            ReconnectionDelayMax = TimeSpan.FromMilliseconds(500),
        };
        configure?.Invoke(options);
        return options;
    }

    public static TaskCompletionSource<T> Signal<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static Task<T> Within<T>(this TaskCompletionSource<T> signal, string what) => signal.Task.Within(what);

    public static async Task<T> Within<T>(this Task<T> task, string what)
    {
        try
        {
            return await task.WaitAsync(Long);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
        }
    }

    public static async Task Within(this Task task, string what)
    {
        try
        {
            await task.WaitAsync(Long);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
        }
    }

    /// <summary>A queue of values with an awaitable next one.</summary>
    public sealed class Inbox<T>
    {
        private readonly System.Threading.Channels.Channel<T> _items = System.Threading.Channels.Channel.CreateUnbounded<T>();

        public void Add(T item) => _items.Writer.TryWrite(item);

        public async Task<T> NextAsync(string what)
        {
            using var cts = new CancellationTokenSource(Long);
            try
            {
                return await _items.Reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            }
        }

        public bool TryTake(out T item) => _items.Reader.TryRead(out item!);
    }
}
