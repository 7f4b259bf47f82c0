using Duplex.SocketIO.EngineIO;
using Duplex.SocketIO.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// A session's outgoing buffer: bounded in bytes and packets with a slow-consumer policy, volatile
/// packets dropped while the transport is not writable, BufferedAmount and the drain signal.
/// </summary>
public sealed class OutgoingBufferTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private static EnginePacket Message(int length) => EnginePacket.Message(new string('x', length - 1)); // "4" + text

    [Fact]
    public async Task A_buffer_over_its_packet_limit_closes_the_session_as_a_slow_consumer_and_the_next_poll_reads_a_close_packet()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o => o.MaxBufferedPackets = 5);
        for (int i = 0; i < 5; i++) Assert.True(harness.Session.Send(EnginePacket.Message("m" + i)));
        Assert.False(harness.Session.Send(EnginePacket.Message("one too many")));
        Assert.Equal(EngineCloseReason.SlowConsumer, await harness.Closed.WaitAsync(Patience));
        // What waited is dropped; the client reads the close packet, which it reports as "transport close".
        Assert.Equal((StatusCodes.Status200OK, "1"), await harness.PollAsync());
        Assert.Equal(0, harness.Session.BufferedAmount);
        Assert.False(harness.Server.TryGetSession(harness.Session.Id, out _));
    }

    [Fact]
    public async Task Under_DropMessage_a_full_buffer_drops_what_does_not_fit_and_keeps_the_session()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o =>
        {
            o.MaxBufferedBytes = 100;
            o.SlowConsumerPolicy = SlowConsumerPolicy.DropMessage;
        });
        Assert.True(harness.Session.Send(Message(40)));
        Assert.True(harness.Session.Send(Message(40)));
        Assert.Equal(80, harness.Session.BufferedAmount);
        Assert.False(harness.Session.Send(Message(40))); // 120 > 100
        Assert.True(harness.Session.Send(Message(20)));  // exactly 100
        Assert.True(harness.Session.IsOpen);
        var (status, body) = await harness.PollAsync();
        Assert.Equal(StatusCodes.Status200OK, status);
        Assert.Equal(3, body.Split('\u001e').Length);
        Assert.Equal(0, harness.Session.BufferedAmount);
        Assert.True(harness.Session.Send(Message(40)));
    }

    [Fact]
    public async Task An_empty_buffer_takes_one_packet_larger_than_the_byte_limit()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o => o.MaxBufferedBytes = 100);
        Assert.True(harness.Session.Send(Message(1000)));
        Assert.True(harness.Session.IsOpen);
        Assert.False(harness.Session.Send(Message(10)));
        Assert.Equal(EngineCloseReason.SlowConsumer, await harness.Closed.WaitAsync(Patience));
    }

    [Fact]
    public async Task Packets_sent_together_are_queued_all_or_none()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync(o =>
        {
            o.MaxBufferedPackets = 3;
            o.SlowConsumerPolicy = SlowConsumerPolicy.DropMessage;
        });
        Assert.True(harness.Session.Send(EnginePacket.Message("a")));
        Assert.False(harness.Session.Send([EnginePacket.Message("b"), EnginePacket.Message("c"), EnginePacket.Message("d")]));
        Assert.True(harness.Session.Send([EnginePacket.Message("b"), EnginePacket.Message("c")]));
        Assert.Equal((StatusCodes.Status200OK, "4a\u001e4b\u001e4c"), await harness.PollAsync());
    }

    [Fact]
    public async Task On_polling_a_volatile_packet_goes_out_only_while_a_poll_is_waiting()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        Assert.False(harness.Session.Send(EnginePacket.Message("nobody polls"), EngineSendFlags.Volatile));
        var poll = harness.PollAsync();
        await harness.WaitForPendingPollAsync();
        Assert.True(harness.Session.Send(EnginePacket.Message("taken"), EngineSendFlags.Volatile));
        // The poll is answered now: until the next one comes, the transport is not writable.
        Assert.False(harness.Session.Send(EnginePacket.Message("too late"), EngineSendFlags.Volatile));
        Assert.True(harness.Session.Send(EnginePacket.Message("kept")));
        // "kept" joins the woken poll's answer, or the next one if the poll took the queue first.
        var (status, body) = await poll;
        Assert.Equal(StatusCodes.Status200OK, status);
        if (body == "4taken") (status, body) = await harness.PollAsync().WaitAsync(Patience);
        else Assert.Equal("4taken\u001e4kept", body);
        Assert.EndsWith("4kept", body);
    }

    [Fact]
    public async Task BufferedAmount_counts_until_the_poll_is_written_then_drain_fires()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        int drains = 0;
        harness.Session.Drain += _ => Interlocked.Increment(ref drains);
        Assert.True(await harness.Session.WaitForDrainAsync().WaitAsync(Patience)); // nothing waits
        harness.Session.Send(EnginePacket.Message("hello")); // "4hello": 6 bytes
        harness.Session.Send(EnginePacket.Message(new byte[10]));
        Assert.Equal(16, harness.Session.BufferedAmount);
        var drained = harness.Session.WaitForDrainAsync();
        Assert.False(drained.IsCompleted);
        Assert.Equal(StatusCodes.Status200OK, (await harness.PollAsync()).Status);
        Assert.True(await drained.WaitAsync(Patience));
        Assert.Equal(0, harness.Session.BufferedAmount);
        Assert.Equal(1, Volatile.Read(ref drains));
    }

    [Fact]
    public async Task A_drain_wait_ends_false_when_the_session_closes_first()
    {
        var harness = await EngineSessionHarness.OpenPollingAsync();
        harness.Session.Send(EnginePacket.Message("never polled"));
        var drained = harness.Session.WaitForDrainAsync();
        harness.Session.Close();
        Assert.False(await drained.WaitAsync(Patience));
        Assert.False(await harness.Session.WaitForDrainAsync().WaitAsync(Patience));
    }

    [Fact]
    public async Task Over_websocket_a_client_that_does_not_read_is_closed_as_a_slow_consumer()
    {
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        var harness = EngineSessionHarness.OpenOverWebSocket(server, o => o.MaxBufferedBytes = 256 * 1024);
        var run = harness.Session.RunWebSocketAsync();
        // The client reads nothing: the pipe fills, the writer waits, packets gather in the session.
        var chunk = EnginePacket.Message(new string('y', 16 * 1024));
        int sent = 0;
        while (harness.Session.Send(chunk))
        {
            Assert.True(++sent < 10_000, "the buffer never filled");
            if (sent % 8 == 0) await Task.Delay(1); // let the writer take what the pipe holds
        }
        Assert.Equal(EngineCloseReason.SlowConsumer, await harness.Closed.WaitAsync(Patience));
        Assert.True(harness.Session.BufferedAmount <= 256 * 1024 + chunk.WireLength);
        // The WebSocket is closed (after the close timeout when the client never reads): the transport ends.
        await run.WaitAsync(TimeSpan.FromSeconds(15));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Over_websocket_drain_fires_once_the_writer_has_written_everything()
    {
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var harness = EngineSessionHarness.OpenOverWebSocket(server);
        var run = harness.Session.RunWebSocketAsync();
        Assert.True(await messages.MoveNextAsync()); // the open packet
        for (int i = 0; i < 20; i++) harness.Session.Send(EnginePacket.Message("m" + i));
        Assert.True(await harness.Session.WaitForDrainAsync().WaitAsync(Patience));
        Assert.Equal(0, harness.Session.BufferedAmount);
        for (int i = 0; i < 20; i++)
        {
            Assert.True(await messages.MoveNextAsync());
            Assert.Equal("4m" + i, messages.Current.Text);
        }
        await client.CloseAsync();
        await run.WaitAsync(Patience);
    }

    [Fact]
    public async Task Over_websocket_a_burst_of_volatile_packets_delivers_fewer_than_sent_and_the_others_all()
    {
        var (server, client) = EngineSessionHarness.NewWebSocketPair();
        await using var messages = client.ReadMessagesAsync().GetAsyncEnumerator();
        var harness = EngineSessionHarness.OpenOverWebSocket(server);
        var run = harness.Session.RunWebSocketAsync();
        Assert.True(await messages.MoveNextAsync()); // the open packet
        // The writer runs on the sender's thread, so a packet the connection takes at once leaves the
        // transport writable again: the burst is dropped from where the pipe stops taking (1 MB, far past
        // what the unread pipe and the client's inbox hold).
        int accepted = 0;
        string padding = new('x', 1024);
        for (int i = 0; i < 1000; i++)
            if (harness.Session.Send(EnginePacket.Message("v" + i + padding), EngineSendFlags.Volatile)) accepted++;
        for (int i = 0; i < 100; i++) Assert.True(harness.Session.Send(EnginePacket.Message("n" + i)));
        harness.Session.Send(EnginePacket.Message("end"));
        int volatiles = 0, others = 0;
        while (await messages.MoveNextAsync().AsTask().WaitAsync(Patience) && messages.Current.Text != "4end")
        {
            if (messages.Current.Text.StartsWith("4v")) volatiles++;
            else others++;
        }
        Assert.Equal(accepted, volatiles);
        Assert.InRange(volatiles, 1, 999);
        Assert.Equal(100, others);
        await client.CloseAsync();
        await run.WaitAsync(Patience);
    }
}
