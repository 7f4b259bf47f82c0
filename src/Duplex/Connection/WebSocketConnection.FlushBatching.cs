using System.Diagnostics;

namespace Duplex;

// Flush batching: the channel between connections that lets one socket write carry many messages.
//
// While a read loop hands a message to the application (t_delivering is that connection, on that
// thread), what the application sends — to this connection or to any other — is written to the pipe
// but not flushed (FlushOrDeferAsync): the target is marked (_flushDeferred, under its send lock) and,
// when it is another connection, queued on the delivering one (_flushQueue). When the read loop has
// handled every byte it read, or before it waits for anything, it flushes its own output and each
// queued connection's (FlushBatchAsync): 16 pipelined echoes go out in one send, a batch of broadcasts
// in one send per recipient. MaxDeferredBytes bounds what waits; past it a send flushes at once.
public sealed partial class WebSocketConnection
{
    // The channel itself: whose delivery this thread is inside (set only around the inbox write that can
    // run the application inline, DeliverAsync), and what it owes other connections (the read loop's).
    [ThreadStatic] private static WebSocketConnection? t_delivering;

    private WebSocketConnection? EnterDelivery()
    {
        var outer = t_delivering;
        t_delivering = this;
        return outer;
    }

    private static void LeaveDelivery(WebSocketConnection? outer) => t_delivering = outer;

    /// <summary>
    /// Under the send lock, after writing a message: flushes, unless the application is sending from
    /// inside a delivery on the read loop's thread — then the read loop flushes once it has handled the
    /// bytes it holds (a batch of requests gets its answers in one write). Bounded by <see cref="MaxDeferredBytes"/>.
    /// </summary>
    private ValueTask FlushOrDeferAsync(int bytes, CancellationToken cancellationToken)
    {
        Debug.Assert(_sendLock.IsHeld, "deferred-flush state is guarded by the send lock");
        var owner = t_delivering;
        if (owner is not null && _deferredBytes + bytes <= MaxDeferredBytes)
        {
            // Counted as buffered until flushed, so a broadcast still sees a recipient that falls behind.
            Interlocked.Add(ref _bufferedBytes, bytes);
            _deferredBytes += bytes;
            if (!_flushDeferred)
            {
                // Whoever marks it flushes it: this connection's read loop, or the delivering one's.
                _flushDeferred = true;
                if (owner != this) (owner._flushQueue ??= RentFlushList()).Add(this);
            }
            return ValueTask.CompletedTask;
        }
        return FlushAsync(cancellationToken);
    }

    private const int MaxDeferredBytes = 64 * 1024;

    /// <summary>
    /// The read loop's flush of what was sent inline during its deliveries (<see cref="FlushOrDeferAsync"/>),
    /// at the end of a batch and before anything it might wait on. Other connections are flushed without
    /// waiting (a slow recipient does not hold up this one's reading); this one's own flush is awaited, so
    /// a peer that does not read what it asked for is not read from either.
    /// </summary>
    private ValueTask FlushBatchAsync()
    {
        FlushOthers();
        return _flushDeferred ? FlushDeferredAsync() : ValueTask.CompletedTask;
    }

    private void FlushOthers()
    {
        if (_flushQueue is not { } others) return;
        _flushQueue = null;
        foreach (var connection in others)
        {
            var flush = connection.FlushDeferredAsync();
            if (flush.IsCompleted) flush.GetAwaiter().GetResult();
            else _ = flush.AsTask(); // it handles its own failures
        }
        ReturnFlushList(others);
    }

    // The lists of recipients a batch wrote to are shared through a small pool, not kept per connection:
    // in a room where everyone talks to 10,000 others, a list each would hold 80 KB per connection.
    private static readonly System.Collections.Concurrent.ConcurrentQueue<List<WebSocketConnection>> s_flushLists = new();

    private static List<WebSocketConnection> RentFlushList() => s_flushLists.TryDequeue(out var list) ? list : [];

    private static void ReturnFlushList(List<WebSocketConnection> list)
    {
        list.Clear();
        if (list.Capacity <= 1 << 16 && s_flushLists.Count < 4 * Environment.ProcessorCount) s_flushLists.Enqueue(list);
    }

    private async ValueTask FlushDeferredAsync()
    {
        if (!_flushDeferred) return;
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_flushDeferred && !_outputDone) await FlushCoreAsync(default).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The transport is gone under the write (Kestrel's abort is an OperationCanceledException):
            // the connection's read loop finds out.
        }
        finally
        {
            _sendLock.Release();
        }
    }
}
