using System.Diagnostics;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

/// <summary>
/// The heartbeat's decisions, driven by calling <see cref="WebSocketConnection.HeartbeatTick"/> with
/// chosen timestamps instead of waiting for the shared timer. The interval is an hour so that the real
/// timer's ticks (timestamps of now) never find a ping due or an answer overdue meanwhile.
/// </summary>
public class KeepAliveTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    private static long After(long start, TimeSpan time) => start + (long)(time.TotalSeconds * Stopwatch.Frequency);

    private static PipeHarness Harness(TimeSpan timeout) =>
        new(options: new WebSocketConnectionOptions { KeepAliveInterval = Interval, KeepAliveTimeout = timeout });

    public static TheoryData<TimeSpan> NoTimeout => new() { TimeSpan.Zero, Timeout.InfiniteTimeSpan };

    [Theory]
    [MemberData(nameof(NoTimeout))]
    public async Task Without_a_timeout_an_unanswered_ping_never_drops_the_connection_and_pings_continue(TimeSpan timeout)
    {
        await using var h = Harness(timeout);
        long start = Stopwatch.GetTimestamp();

        h.Connection.HeartbeatTick(After(start, Interval));
        Assert.Equal(Opcode.Ping, (await h.ReadFrameAsync())!.Opcode);

        // A tick later, and long after: still open (before the fix, the first tick after the ping dropped it).
        h.Connection.HeartbeatTick(After(start, Interval + TimeSpan.FromSeconds(1)));
        h.Connection.HeartbeatTick(After(start, Interval + Interval / 2));
        Assert.Equal(WebSocketState.Open, h.Connection.State);
        Assert.Null(h.Connection.CloseStatus);

        // An interval after the unanswered ping, the next one goes out.
        h.Connection.HeartbeatTick(After(start, Interval * 2));
        Assert.Equal(Opcode.Ping, (await h.ReadFrameAsync())!.Opcode);
        h.Connection.HeartbeatTick(After(start, Interval * 3));
        Assert.Equal(Opcode.Ping, (await h.ReadFrameAsync())!.Opcode);
        h.Connection.HeartbeatTick(After(start, Interval * 100));
        Assert.Equal(WebSocketState.Open, h.Connection.State);
    }

    [Fact]
    public async Task With_a_timeout_an_unanswered_ping_drops_the_connection_once_the_timeout_has_passed()
    {
        var timeout = TimeSpan.FromSeconds(10);
        long created = Stopwatch.GetTimestamp();
        await using var h = Harness(timeout);
        long start = Stopwatch.GetTimestamp();

        // Not yet an interval since the connection began (its last sign of life): no ping.
        h.Connection.HeartbeatTick(After(created, Interval - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(0, h.Output.Flushes);
        h.Connection.HeartbeatTick(After(start, Interval));
        Assert.Equal(Opcode.Ping, (await h.ReadFrameAsync())!.Opcode);

        h.Connection.HeartbeatTick(After(start, Interval + timeout - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(WebSocketState.Open, h.Connection.State);

        h.Connection.HeartbeatTick(After(start, Interval + timeout));
        Assert.Equal(WebSocketState.Aborted, h.Connection.State);
        Assert.Equal(CloseStatus.AbnormalClosure, h.Connection.CloseStatus);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("keep-alive ping"));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-2)]
    [InlineData(-30_000)]
    public void Negative_keep_alive_times_other_than_infinite_are_rejected(int milliseconds)
    {
        var options = new WebSocketConnectionOptions();
        var value = TimeSpan.FromMilliseconds(milliseconds) - TimeSpan.FromTicks(milliseconds == -1 ? 1 : 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.KeepAliveTimeout = value);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.KeepAliveInterval = value);
        Assert.Equal(TimeSpan.FromSeconds(30), options.KeepAliveTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.KeepAliveInterval);
    }

    [Fact]
    public void Zero_infinite_and_positive_keep_alive_times_are_accepted()
    {
        var options = new WebSocketConnectionOptions();
        foreach (var value in new[] { TimeSpan.Zero, Timeout.InfiniteTimeSpan, TimeSpan.FromTicks(1), TimeSpan.FromMinutes(5) })
        {
            options.KeepAliveTimeout = value;
            options.KeepAliveInterval = value;
            Assert.Equal(value, options.KeepAliveTimeout);
            Assert.Equal(value, options.KeepAliveInterval);
        }
    }

    [Fact]
    public void Zero_and_infinite_interval_turn_the_heartbeat_off_and_zero_and_infinite_timeout_mean_none()
    {
        var options = new WebSocketConnectionOptions();
        Assert.True(options.HasKeepAlive);
        Assert.True(options.HasKeepAliveTimeout);
        options.KeepAliveInterval = TimeSpan.Zero;
        options.KeepAliveTimeout = TimeSpan.Zero;
        Assert.False(options.HasKeepAlive);
        Assert.False(options.HasKeepAliveTimeout);
        options.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        options.KeepAliveTimeout = Timeout.InfiniteTimeSpan;
        Assert.False(options.HasKeepAlive);
        Assert.False(options.HasKeepAliveTimeout);
    }

    [Theory]
    // A quarter of the shorter of interval and timeout (no timeout: of the interval), clamped to 10 ms..1 s.
    [InlineData(2000, 2000, 500)]
    [InlineData(30_000, 30_000, 1000)]
    [InlineData(2000, 0, 500)]
    [InlineData(2000, -1, 500)]
    [InlineData(8000, 400, 100)]
    [InlineData(20, 20, 10)]
    public void The_heartbeat_tick_is_a_quarter_of_the_shorter_time_within_10_ms_and_1_s(int intervalMs, int timeoutMs, int tickMs)
    {
        var tick = HeartbeatScheduler.For(TimeSpan.FromMilliseconds(intervalMs), TimeSpan.FromMilliseconds(timeoutMs)).Period;
        Assert.Equal(TimeSpan.FromMilliseconds(tickMs), tick);
    }
}
