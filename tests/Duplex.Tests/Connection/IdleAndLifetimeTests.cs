using System.Diagnostics;
using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Connection;

/// <summary>
/// IdleTimeout and MaxLifetime, decided on the heartbeat's ticks: driven here by calling
/// <see cref="WebSocketConnection.HeartbeatTick"/> with chosen timestamps. The times are an hour, so the
/// real shared timer's ticks (timestamps of now) never find one due meanwhile.
/// </summary>
public class IdleAndLifetimeTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static long After(long start, TimeSpan time) => start + (long)(time.TotalSeconds * Stopwatch.Frequency);

    private static async Task AssertClosedWithAsync(PipeHarness h, int code, string reason)
    {
        var close = (await h.ReadFrameAsync())!;
        Assert.Equal(Opcode.Close, close.Opcode);
        Assert.Equal(code, close.CloseCode);
        Assert.Equal(reason, Encoding.UTF8.GetString(close.Payload, 2, close.Payload.Length - 2));
        Assert.Equal(WebSocketState.CloseSent, h.Connection.State);
    }

    [Fact]
    public async Task Pings_from_the_peer_do_not_count_as_activity_and_the_idle_connection_is_closed_with_1001()
    {
        long created = Stopwatch.GetTimestamp();
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { IdleTimeout = Hour, KeepAliveInterval = TimeSpan.Zero });
        long after = Stopwatch.GetTimestamp();

        await h.SendAsync(Frames.Client(Opcode.Ping, "are you there"));
        Assert.Equal(Opcode.Pong, (await h.ReadFrameAsync())!.Opcode);
        await h.SendAsync(Frames.Client(Opcode.Pong, "unsolicited"));
        h.Connection.HeartbeatTick(After(created, Hour) - 1);
        Assert.Equal(WebSocketState.Open, h.Connection.State);

        // An hour after the connection began, with only control frames since: idle.
        h.Connection.HeartbeatTick(After(after, Hour));
        await AssertClosedWithAsync(h, 1001, "idle timeout");
    }

    [Fact]
    public async Task A_data_message_received_restarts_the_idle_timeout()
    {
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { IdleTimeout = Hour, KeepAliveInterval = TimeSpan.Zero });
        long created = Stopwatch.GetTimestamp();
        await Task.Delay(20); // the message's read comes measurably later than the connection
        long sent = Stopwatch.GetTimestamp();
        await h.SendAsync(Frames.Client(Opcode.Text, "still here"));
        await foreach (var m in h.Connection.ReadMessagesAsync()) { Assert.Equal("still here", m.Text); break; }
        Assert.True(sent > created);

        // An hour after the connection began, but not an hour after the message: open.
        h.Connection.HeartbeatTick(After(sent, Hour) - 1);
        Assert.Equal(WebSocketState.Open, h.Connection.State);
        h.Connection.HeartbeatTick(After(Stopwatch.GetTimestamp(), Hour));
        await AssertClosedWithAsync(h, 1001, "idle timeout");
    }

    [Fact]
    public async Task A_connection_past_its_max_lifetime_is_closed_with_1001_however_busy()
    {
        long before = Stopwatch.GetTimestamp();
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { MaxLifetime = Hour, MaxLifetimeJitter = 0, KeepAliveInterval = TimeSpan.Zero });
        long after = Stopwatch.GetTimestamp();
        Assert.InRange(h.ExpiresAtOf(), After(before, Hour), After(after, Hour));

        h.Connection.HeartbeatTick(After(before, Hour) - 1);
        Assert.Equal(WebSocketState.Open, h.Connection.State);
        h.Connection.HeartbeatTick(After(after, Hour));
        await AssertClosedWithAsync(h, 1001, "max lifetime");
    }

    [Fact]
    public async Task Lifetimes_are_spread_by_the_jitter_and_never_longer_than_max_lifetime()
    {
        var options = new WebSocketConnectionOptions { MaxLifetime = Hour, MaxLifetimeJitter = 0.5, KeepAliveInterval = TimeSpan.Zero };
        var lives = new List<TimeSpan>();
        for (int i = 0; i < 40; i++)
        {
            long before = Stopwatch.GetTimestamp();
            await using var h = new PipeHarness(options: options);
            long after = Stopwatch.GetTimestamp();
            long expires = h.ExpiresAtOf();
            // Between half an hour and an hour from the connection's start (which lies between before and after).
            Assert.InRange(expires, After(before, Hour / 2), After(after, Hour));
            lives.Add(Stopwatch.GetElapsedTime(before, expires));
        }
        // Spread over the half hour, not one value: 40 uniform draws land in more than 10 of its 30 minutes.
        Assert.True(lives.Select(l => (int)l.TotalMinutes).Distinct().Count() > 10);
    }

    [Fact]
    public async Task Without_the_options_no_tick_closes_a_quiet_connection()
    {
        await using var h = new PipeHarness(options: new WebSocketConnectionOptions { KeepAliveInterval = Hour, KeepAliveTimeout = TimeSpan.Zero });
        Assert.Equal(0, h.ExpiresAtOf());
        h.Connection.HeartbeatTick(After(Stopwatch.GetTimestamp(), TimeSpan.FromDays(3650)));
        // The keep-alive pings (it is due), nothing closes.
        Assert.Equal(Opcode.Ping, (await h.ReadFrameAsync())!.Opcode);
        Assert.Equal(WebSocketState.Open, h.Connection.State);
    }

    [Fact]
    public void Defaults_are_off_and_setters_refuse_negative_times_and_jitter_outside_zero_to_one()
    {
        var options = new WebSocketConnectionOptions();
        Assert.Equal(TimeSpan.Zero, options.IdleTimeout);
        Assert.Equal(TimeSpan.Zero, options.MaxLifetime);
        Assert.Equal(0.1, options.MaxLifetimeJitter);
        Assert.False(options.HasIdleTimeout);
        Assert.False(options.HasMaxLifetime);

        Assert.Throws<ArgumentOutOfRangeException>(() => options.IdleTimeout = TimeSpan.FromMilliseconds(-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxLifetime = TimeSpan.FromSeconds(-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxLifetimeJitter = -0.01);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxLifetimeJitter = 1.01);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxLifetimeJitter = double.NaN);

        // Zero and Timeout.InfiniteTimeSpan both mean off, as for KeepAliveTimeout.
        options.KeepAliveInterval = TimeSpan.Zero;
        foreach (var off in new[] { TimeSpan.Zero, Timeout.InfiniteTimeSpan })
        {
            options.IdleTimeout = off;
            options.MaxLifetime = off;
            Assert.Equal(off, options.IdleTimeout);
            Assert.False(options.HasIdleTimeout);
            Assert.False(options.HasMaxLifetime);
            Assert.False(options.NeedsHeartbeat);
        }
        options.IdleTimeout = TimeSpan.FromMilliseconds(300);
        Assert.True(options.NeedsHeartbeat);
    }

    [Fact]
    public void The_shared_timer_ticks_at_a_quarter_of_the_shortest_time_it_checks()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(75), HeartbeatScheduler.For(new WebSocketConnectionOptions { KeepAliveInterval = TimeSpan.Zero, IdleTimeout = TimeSpan.FromMilliseconds(300) }).Period);
        Assert.Equal(TimeSpan.FromMilliseconds(100), HeartbeatScheduler.For(new WebSocketConnectionOptions
        {
            KeepAliveInterval = TimeSpan.Zero,
            MaxLifetime = TimeSpan.FromMilliseconds(800),
            MaxLifetimeJitter = 0.5,
        }).Period);
        Assert.Equal(TimeSpan.FromSeconds(1), HeartbeatScheduler.For(new WebSocketConnectionOptions { MaxLifetime = TimeSpan.FromHours(1) }).Period);
    }
}

internal static class HarnessLifetime
{
    public static long ExpiresAtOf(this PipeHarness h) => h.Connection.ExpiresAt;
}
