using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

/// <summary>
/// What an application sends while the read loop hands it a message (the application running inline)
/// is flushed once the loop has handled the bytes it holds: a batch of requests gets one write back,
/// and a batch of broadcasts one write per recipient — and nothing sent waits longer than that.
/// </summary>
public class FlushBatchingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static Task EchoAsync(WebSocketConnection connection) => Task.Run(async () =>
    {
        await foreach (var message in connection.ReadMessagesAsync())
            await connection.SendAsync(message);
    });

    /// <summary>One round trip, so the application is known to be waiting for the next message.</summary>
    private static async Task PrimeAsync(PipeHarness h)
    {
        await h.SendAsync(Frames.Client(Opcode.Text, "prime"));
        Assert.Equal("prime", (await h.ReadFrameAsync(Timeout))!.Text);
    }

    [Fact]
    public async Task Echoes_of_messages_that_arrived_together_go_out_in_one_flush()
    {
        await using var h = new PipeHarness();
        var echo = EchoAsync(h.Connection);
        await PrimeAsync(h);
        h.Output.ResetCount();

        await h.SendAsync(Frames.Concat([.. Enumerable.Range(0, 16).Select(i => Frames.Client(Opcode.Text, $"m{i}"))]));
        for (int i = 0; i < 16; i++) Assert.Equal($"m{i}", (await h.ReadFrameAsync(Timeout))!.Text);
        Assert.Equal(1, h.Output.Flushes);

        await h.SendAsync(Frames.ClientClose(1000));
        Assert.Equal(1000, (await h.ReadFrameAsync(Timeout))!.CloseCode);
        await echo.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Broadcasts_made_from_one_batch_reach_each_recipient_in_one_flush()
    {
        await using var publisher = new PipeHarness();
        await using var first = new PipeHarness();
        await using var second = new PipeHarness();
        var recipients = new[] { first.Connection, second.Connection };
        var relay = Task.Run(async () =>
        {
            await foreach (var message in publisher.Connection.ReadMessagesAsync())
            {
                var prepared = PreparedMessage.Create(message.Data.Span, message.Type);
                foreach (var r in recipients)
                {
                    Assert.True(r.TrySendWithoutWaiting(prepared, out var send));
                    await send;
                }
                await second.Connection.SendTextAsync("direct");
            }
        });
        await publisher.SendAsync(Frames.Client(Opcode.Text, "prime"));
        Assert.Equal("prime", (await first.ReadFrameAsync(Timeout))!.Text);
        Assert.Equal("prime", (await second.ReadFrameAsync(Timeout))!.Text);
        Assert.Equal("direct", (await second.ReadFrameAsync(Timeout))!.Text);
        first.Output.ResetCount();
        second.Output.ResetCount();

        await publisher.SendAsync(Frames.Concat([.. Enumerable.Range(0, 10).Select(i => Frames.Client(Opcode.Text, $"b{i}"))]));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal($"b{i}", (await first.ReadFrameAsync(Timeout))!.Text);
            Assert.Equal($"b{i}", (await second.ReadFrameAsync(Timeout))!.Text);
            Assert.Equal("direct", (await second.ReadFrameAsync(Timeout))!.Text);
        }
        Assert.Equal(1, first.Output.Flushes);
        Assert.Equal(1, second.Output.Flushes);
        Assert.Equal(0, first.Connection.BufferedAmount);
        Assert.Equal(0, second.Connection.BufferedAmount);

        await publisher.SendAsync(Frames.ClientClose(1000));
        await relay.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_reply_is_not_held_back_when_the_application_then_waits_and_the_inbox_fills()
    {
        // The application answers the first message inline, then waits on something else for good;
        // the read loop fills the inbox (capacity 1) and has to stop: the answer must be out by then.
        var never = new TaskCompletionSource();
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { ReceiveQueueCapacity = 1 });
        var app = Task.Run(async () =>
        {
            await foreach (var message in h.Connection.ReadMessagesAsync())
            {
                await h.Connection.SendAsync(message);
                await never.Task;
            }
        });
        await Task.Delay(50); // the application is waiting for its first message
        await h.SendAsync(Frames.Concat([.. Enumerable.Range(0, 5).Select(i => Frames.Client(Opcode.Text, $"q{i}"))]));
        Assert.Equal("q0", (await h.ReadFrameAsync(Timeout))!.Text);
        never.SetResult();
        for (int i = 1; i < 5; i++) Assert.Equal($"q{i}", (await h.ReadFrameAsync(Timeout))!.Text);
        await h.SendAsync(Frames.ClientClose(1000));
        await app.WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_recipient_that_does_not_read_is_still_held_to_its_buffer_limit_and_keeps_what_was_accepted()
    {
        await using var publisher = new PipeHarness();
        // Its peer reads nothing for now; its pipe stops taking bytes past 1 KiB.
        await using var slow = new PipeHarness(options: new WebSocketConnectionOptions { MaxBufferedBytes = 8 * 1024 }, outputPauseBytes: 1024);
        int accepted = 0, refused = 0;
        long maxBuffered = 0;
        var payload = new string('x', 500);
        var relay = Task.Run(async () =>
        {
            await foreach (var message in publisher.Connection.ReadMessagesAsync())
            {
                var prepared = PreparedMessage.Create(message.Data.Span, message.Type);
                if (slow.Connection.TrySendWithoutWaiting(prepared, out var send))
                {
                    accepted++;
                    _ = send.AsTask();
                }
                else
                {
                    refused++;
                }
                maxBuffered = Math.Max(maxBuffered, slow.Connection.BufferedAmount);
            }
        });
        await publisher.SendAsync(Frames.Concat([.. Enumerable.Range(0, 40).Select(_ => Frames.Client(Opcode.Text, payload))]));
        await publisher.SendAsync(Frames.ClientClose(1000));
        await relay.WaitAsync(Timeout);

        Assert.True(refused > 0, "the limit never applied");
        Assert.True(accepted > 0);
        Assert.InRange(maxBuffered, 1, 8 * 1024);
        for (int i = 0; i < accepted; i++) Assert.Equal(payload, (await slow.ReadFrameAsync(Timeout))!.Text);
        await WaitUntil(() => slow.Connection.BufferedAmount == 0);
    }

    [Fact]
    public async Task A_peer_that_sends_and_never_reads_does_not_outlive_the_close_timeout()
    {
        // The echoes back up (the pipe takes 1 KiB), so the read loop waits in its batch flush; a close
        // started by the application must still end the connection within the close timeout.
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { CloseTimeout = TimeSpan.FromSeconds(1) }, outputPauseBytes: 1024);
        var echo = EchoAsync(h.Connection);
        await Task.Delay(50);
        var payload = new string('y', 200);
        await h.SendAsync(Frames.Concat([.. Enumerable.Range(0, 100).Select(_ => Frames.Client(Opcode.Text, payload))]));
        await Task.Delay(200);
        var closing = Task.Run(() => h.Connection.CloseAsync());
        await h.Connection.Completion.WaitAsync(Timeout);
        await closing.WaitAsync(Timeout);
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        // The echo loop ends too: either its read sees the end, or its send, made after the close
        // began, is refused — which of the two depends on where the close found it.
        var ended = await Record.ExceptionAsync(() => echo.WaitAsync(Timeout));
        Assert.True(ended is null or WebSocketClosedException, $"echo loop ended with {ended}");
    }

    [Fact]
    public async Task Replies_made_outside_a_delivery_are_flushed_at_once()
    {
        await using var h = new PipeHarness();
        h.Output.ResetCount();
        await h.Connection.SendTextAsync("one");
        await h.Connection.SendTextAsync("two");
        Assert.Equal(2, h.Output.Flushes);
        Assert.Equal("one", (await h.ReadFrameAsync(Timeout))!.Text);
        Assert.Equal("two", (await h.ReadFrameAsync(Timeout))!.Text);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
