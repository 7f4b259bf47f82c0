namespace Duplex.Tests.Connection;

public class SendLockTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Holders_never_overlap_under_contention()
    {
        var sendLock = new SendLock();
        int inside = 0, maxInside = 0, done = 0;
        async Task Worker()
        {
            for (int i = 0; i < 2000; i++)
            {
                await sendLock.WaitAsync();
                try
                {
                    int now = Interlocked.Increment(ref inside);
                    maxInside = Math.Max(maxInside, now);
                    if (i % 7 == 0) await Task.Yield(); // hold it across an await sometimes
                    done++; // not atomic: the lock is what keeps the count right
                    Interlocked.Decrement(ref inside);
                }
                finally
                {
                    sendLock.Release();
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(Worker))).WaitAsync(Bound);
        Assert.Equal(1, maxInside);
        Assert.Equal(8 * 2000, done);
    }

    [Fact]
    public async Task Waiters_get_the_lock_in_the_order_they_asked()
    {
        var sendLock = new SendLock();
        await sendLock.WaitAsync();
        var order = new List<int>();
        var waiting = Enumerable.Range(0, 5).Select(async n =>
        {
            var wait = sendLock.WaitAsync();
            Assert.False(wait.IsCompleted);
            await wait;
            lock (order) order.Add(n);
            sendLock.Release();
        }).ToArray();
        sendLock.Release();
        await Task.WhenAll(waiting).WaitAsync(Bound);
        Assert.Equal([0, 1, 2, 3, 4], order);
        // All released: free again, taken at once.
        Assert.True(sendLock.WaitAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_cancelled_waiter_is_skipped_and_the_lock_goes_to_the_next()
    {
        var sendLock = new SendLock();
        await sendLock.WaitAsync();
        using var cancel = new CancellationTokenSource();
        var cancelled = sendLock.WaitAsync(cancel.Token);
        var next = sendLock.WaitAsync();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
        Assert.False(next.IsCompleted);

        sendLock.Release();
        await next.WaitAsync(Bound); // handed over past the cancelled one
        sendLock.Release();
        Assert.True(sendLock.WaitAsync().IsCompletedSuccessfully, "the lock leaked to the cancelled waiter");
    }

    [Fact]
    public async Task Only_cancelled_waiters_left_frees_the_lock()
    {
        var sendLock = new SendLock();
        await sendLock.WaitAsync();
        using var cancel = new CancellationTokenSource();
        var cancelled = sendLock.WaitAsync(cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
        sendLock.Release();
        Assert.True(sendLock.WaitAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public void Releasing_a_lock_nobody_holds_throws()
    {
        var sendLock = new SendLock();
        Assert.Throws<SynchronizationLockException>(sendLock.Release);
        Assert.True(sendLock.WaitAsync().IsCompletedSuccessfully);
        sendLock.Release();
        Assert.Throws<SynchronizationLockException>(sendLock.Release);
    }

    [Fact]
    public async Task An_already_cancelled_token_does_not_queue()
    {
        var sendLock = new SendLock();
        await sendLock.WaitAsync();
        var wait = sendLock.WaitAsync(new CancellationToken(true));
        Assert.True(wait.IsCanceled);
        sendLock.Release();
        Assert.True(sendLock.WaitAsync().IsCompletedSuccessfully);
    }
}
