using System.Diagnostics;

namespace Duplex;

/// <summary>
/// One timer for the keep-alive of every connection that ticks at the same period, instead of a
/// timer and a waiting task per connection: an idle connection costs a set entry, not a task, and a
/// finished one leaves by removal, not by a cancellation exception. Each tick asks every member
/// whether a ping is due or an answer overdue (<see cref="WebSocketConnection.HeartbeatTick"/>).
/// </summary>
internal sealed class HeartbeatScheduler
{
    private static readonly Dictionary<long, HeartbeatScheduler> s_byPeriod = new();

    private readonly HashSet<WebSocketConnection> _members = new(ReferenceEqualityComparer.Instance);
    private readonly Timer _timer;
    private WebSocketConnection[] _snapshot = [];
    private int _ticking;

    private HeartbeatScheduler(TimeSpan period)
    {
        Period = period;
        // Not holding the process open, and not capturing the creator's ExecutionContext.
        using (ExecutionContext.SuppressFlow())
            _timer = new Timer(static state => ((HeartbeatScheduler)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TimeSpan Period { get; }

    /// <summary>
    /// The scheduler whose tick suits <paramref name="interval"/> and <paramref name="timeout"/>: a
    /// quarter of the shorter, between 10 ms and 1 s, so a ping goes out at most a tick late.
    /// </summary>
    public static HeartbeatScheduler For(TimeSpan interval, TimeSpan timeout)
    {
        var shorter = timeout > TimeSpan.Zero && timeout < interval ? timeout : interval;
        return ForPeriod(shorter);
    }

    /// <summary>
    /// The scheduler for a connection of <paramref name="options"/>: its tick is a quarter of the shortest
    /// of the times it checks (keep-alive interval and timeout, idle timeout, the shortest jittered
    /// lifetime), between 10 ms and 1 s.
    /// </summary>
    public static HeartbeatScheduler For(WebSocketConnectionOptions options)
    {
        var shortest = TimeSpan.MaxValue;
        if (options.HasKeepAlive)
        {
            shortest = options.KeepAliveInterval;
            if (options.HasKeepAliveTimeout && options.KeepAliveTimeout < shortest) shortest = options.KeepAliveTimeout;
        }
        if (options.HasIdleTimeout && options.IdleTimeout < shortest) shortest = options.IdleTimeout;
        if (options.HasMaxLifetime)
        {
            var soonest = options.MaxLifetime * (1 - options.MaxLifetimeJitter);
            if (soonest <= TimeSpan.Zero) soonest = options.MaxLifetime;
            if (soonest < shortest) shortest = soonest;
        }
        return ForPeriod(shortest);
    }

    private static HeartbeatScheduler ForPeriod(TimeSpan shorter)
    {
        long ms = (long)Math.Clamp(shorter.TotalMilliseconds / 4, 10, 1000);
        lock (s_byPeriod)
        {
            if (!s_byPeriod.TryGetValue(ms, out var scheduler)) s_byPeriod[ms] = scheduler = new HeartbeatScheduler(TimeSpan.FromMilliseconds(ms));
            return scheduler;
        }
    }

    public void Add(WebSocketConnection connection)
    {
        lock (_members)
        {
            _members.Add(connection);
            if (_members.Count == 1) _timer.Change(Period, Period);
        }
    }

    public void Remove(WebSocketConnection connection)
    {
        lock (_members)
        {
            _members.Remove(connection);
            if (_members.Count == 0) _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private void Tick()
    {
        // A slow tick is not overlapped by the next one.
        if (Interlocked.Exchange(ref _ticking, 1) == 1) return;
        int count;
        WebSocketConnection[] snapshot;
        try
        {
            lock (_members)
            {
                count = _members.Count;
                if (_snapshot.Length < count) _snapshot = new WebSocketConnection[Math.Max(count, _snapshot.Length * 2)];
                _members.CopyTo(_snapshot);
                snapshot = _snapshot;
            }
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < count; i++) snapshot[i].HeartbeatTick(now);
            Array.Clear(snapshot, 0, count); // hold no finished connection until the next tick
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }
}
