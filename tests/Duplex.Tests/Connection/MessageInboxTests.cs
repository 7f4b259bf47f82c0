namespace Duplex.Tests.Connection;

public class MessageInboxTests
{
    private static WebSocketMessage Message(int n) => new(WebSocketMessageType.Binary, [(byte)n], 1, true);

    private static int Read(MessageInbox inbox)
    {
        Assert.True(inbox.TryRead(out var m));
        return m.Data.Span[0];
    }

    /// <summary>What the last ReadAsync took, released.</summary>
    private static int Taken(MessageInbox inbox)
    {
        Assert.True(inbox.TryReleaseTaken(out var m));
        Assert.False(inbox.TryReleaseTaken(out _));
        return m.Data.Span[0];
    }

    [Fact]
    public void Keeps_order_through_growth_and_wrap_around_and_refuses_past_capacity()
    {
        var inbox = new MessageInbox(6);
        int written = 0, read = 0;
        // Interleave so the ring wraps while it grows (4 -> 6).
        for (int round = 0; round < 50; round++)
        {
            while (inbox.TryWrite(Message(written))) written++;
            Assert.Equal(6, written - read);
            for (int i = 0; i < 1 + round % 5; i++) Assert.Equal(read++ % 256, Read(inbox));
        }
        while (inbox.TryRead(out var m)) Assert.Equal(read++ % 256, m.Data.Span[0]);
        Assert.Equal(written, read);
    }

    [Fact]
    public async Task A_waiting_reader_is_woken_by_a_write_on_the_writers_thread()
    {
        var inbox = new MessageInbox(4);
        var woken = new TaskCompletionSource<(int Thread, bool Result, bool Queued)>(TaskCreationOptions.RunContinuationsAsynchronously);
        // The continuation is registered before the write (an await could find the write done already),
        // off the test's synchronization context.
        await Task.Run(() =>
        {
            var wait = inbox.ReadAsync(CancellationToken.None);
            Assert.False(wait.IsCompleted);
            var awaiter = wait.ConfigureAwait(false).GetAwaiter();
            awaiter.OnCompleted(() => woken.SetResult((Environment.CurrentManagedThreadId, awaiter.GetResult(), inbox.TryRead(out _))));
        });
        int writer = await Task.Run(() =>
        {
            Assert.True(inbox.TryWrite(Message(7)));
            return Environment.CurrentManagedThreadId;
        });
        var (thread, result, queued) = await woken.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(result);
        Assert.False(queued); // handed over, not queued
        Assert.Equal(writer, thread);
        Assert.Equal(7, Taken(inbox));
    }

    [Fact]
    public async Task Completing_ends_reading_after_what_is_left()
    {
        var inbox = new MessageInbox(4);
        Assert.True(inbox.TryWrite(Message(1)));
        inbox.Complete();
        Assert.False(inbox.TryWrite(Message(2)));
        Assert.True(await inbox.ReadAsync(CancellationToken.None));
        Assert.Equal(1, Taken(inbox));
        Assert.False(await inbox.ReadAsync(CancellationToken.None));
        Assert.False(inbox.TryReleaseTaken(out _));

        var empty = new MessageInbox(4);
        var waiting = empty.ReadAsync(CancellationToken.None).AsTask();
        empty.Complete();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_the_next_wait_still_works()
    {
        var inbox = new MessageInbox(4);
        using var cts = new CancellationTokenSource();
        var waiting = inbox.ReadAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));

        // The cancelled reader takes nothing: the next write is queued, or handed to the next reader.
        Assert.True(inbox.TryWrite(Message(2)));
        Assert.Equal(2, Read(inbox));
        var again = inbox.ReadAsync(CancellationToken.None).AsTask();
        Assert.True(inbox.TryWrite(Message(3)));
        Assert.True(await again.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(3, Taken(inbox));
    }

    [Fact]
    public async Task A_full_inbox_makes_the_writer_wait_until_a_read_frees_room()
    {
        var inbox = new MessageInbox(2);
        Assert.True(inbox.TryWrite(Message(1)));
        Assert.True(inbox.TryWrite(Message(2)));
        var room = inbox.WaitForRoomAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(room.IsCompleted);
        Assert.Equal(1, Read(inbox));
        Assert.True(await room.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(inbox.TryWrite(Message(3)));

        var stuck = inbox.WaitForRoomAsync(CancellationToken.None).AsTask();
        inbox.Complete();
        Assert.False(await stuck.WaitAsync(TimeSpan.FromSeconds(5)) && inbox.TryWrite(Message(4)));
    }

    [Fact]
    public async Task A_reader_takes_queued_messages_in_order_before_waiting()
    {
        var inbox = new MessageInbox(4);
        for (int i = 1; i <= 3; i++) Assert.True(inbox.TryWrite(Message(i)));
        for (int i = 1; i <= 3; i++)
        {
            var read = inbox.ReadAsync(CancellationToken.None);
            Assert.True(read.IsCompletedSuccessfully);
            Assert.True(await read);
            Assert.Equal(i, Taken(inbox));
        }
        var waiting = inbox.ReadAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Throws<InvalidOperationException>(() => inbox.ReadAsync(CancellationToken.None));
        inbox.Complete();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
