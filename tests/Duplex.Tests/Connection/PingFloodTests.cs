using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

/// <summary>
/// Pings in bulk (RFC 6455 §5.5.2): every one is answered, in order, but a burst read together is
/// answered in one write — a ping flood costs one send per read, not one per ping.
/// </summary>
public class PingFloodTests
{
    [Fact]
    public async Task A_burst_of_pings_is_answered_pong_for_ping_in_one_flush()
    {
        await using var h = new PipeHarness();
        h.Output.ResetCount();
        await h.SendAsync(Frames.Concat([.. Enumerable.Range(0, 1000).Select(i => Frames.Client(Opcode.Ping, $"p{i}"))]));
        for (int i = 0; i < 1000; i++)
        {
            var pong = await h.ReadFrameAsync();
            Assert.Equal(Opcode.Pong, pong!.Opcode);
            Assert.Equal($"p{i}", pong.Text);
        }
        // One batch read, one write (each pong flushed on its own made 1000).
        Assert.InRange(h.Output.Flushes, 1, 2);
    }

    [Fact]
    public async Task A_lone_ping_is_answered_at_once()
    {
        await using var h = new PipeHarness();
        await h.SendAsync(Frames.Client(Opcode.Ping, "one"));
        var pong = await h.ReadFrameAsync();
        Assert.Equal("one", pong!.Text);
        // And the connection goes on: a ping, a message and a ping in one read come back in order.
        var collected = h.CollectMessagesAsync();
        await h.SendAsync(Frames.Concat(Frames.Client(Opcode.Ping, "a"), Frames.Client(Opcode.Text, "m"), Frames.Client(Opcode.Ping, "b"), Frames.ClientClose(1000)));
        var frames = await h.ReadAllFramesAsync();
        Assert.Equal(["a", "b"], frames.Where(f => f.Opcode == Opcode.Pong).Select(f => f.Text));
        Assert.Equal(Opcode.Close, frames[^1].Opcode);
        Assert.Equal(["m"], (await collected).Select(m => System.Text.Encoding.UTF8.GetString(m.Data)));
    }

    [Fact]
    public async Task Pongs_past_the_deferred_limit_are_flushed_as_they_go()
    {
        // 1,000 pings of 100 bytes: 102 KB of pongs, more than one deferred batch (64 KiB) may hold.
        await using var h = new PipeHarness();
        h.Output.ResetCount();
        var payload = new string('x', 100);
        var sending = h.SendAsync(Frames.Concat([.. Enumerable.Repeat(Frames.Client(Opcode.Ping, payload), 1000)]));
        for (int i = 0; i < 1000; i++) Assert.Equal(payload, (await h.ReadFrameAsync())!.Text);
        await sending;
        Assert.InRange(h.Output.Flushes, 2, 20);
    }
}
