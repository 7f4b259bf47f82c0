using System.Collections.Concurrent;
using System.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Server;

/// <summary>
/// Every open connection of a server, and named groups of them. Connections leave the registry and
/// all groups by themselves when they end.
/// </summary>
public sealed class WebSocketConnectionRegistry
{
    private readonly ConcurrentDictionary<long, WebSocketConnection> _all = new();
    private readonly ConcurrentDictionary<string, GroupMembers> _groups = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, Memberships> _memberships = new();

    /// <summary>A registry without a backplane: group broadcasts stay in this process.</summary>
    public WebSocketConnectionRegistry() { }

    /// <summary>A registry whose group broadcasts also go to the other nodes through <paramref name="backplane"/>.</summary>
    public WebSocketConnectionRegistry(IGroupBackplane? backplane) => Backplane = backplane;

    /// <summary>Where group broadcasts go beyond this process; null when this server stands alone.</summary>
    public IGroupBackplane? Backplane { get; }

    /// <summary>How many connections are open on this node.</summary>
    public int Count => _all.Count;

    /// <summary>A snapshot of the open connections on this node.</summary>
    public ICollection<WebSocketConnection> Connections => _all.Values;

    /// <summary>
    /// The group of this name. Reading it creates nothing: the registry holds a group only while it has
    /// members on this node, and forgets it when the last one leaves.
    /// </summary>
    public ConnectionGroup this[string group]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(group);
            return _groups.TryGetValue(group, out var members) ? members.Handle : new ConnectionGroup(this, group);
        }
    }

    /// <summary>
    /// Registers a connection; the upgrade that made it calls <see cref="Remove"/> once it has ended. One
    /// that got past the refusal of upgrades just as a drain or the shutdown began is closed at once with
    /// the drain's code, so that no connection outlives them.
    /// </summary>
    internal void Add(WebSocketConnection connection)
    {
        _all[connection.Id] = connection;
        if (_drainClose is { } close) _ = CloseQuietlyAsync(connection, close.Status, close.Reason);
    }

    /// <summary>Forgets an ended connection and takes it out of its groups; returns how many groups it left.</summary>
    internal int Remove(WebSocketConnection connection)
    {
        _all.TryRemove(connection.Id, out WebSocketConnection? _);
        return LeaveAll(connection);
    }

    /// <summary>How many groups have members on this node (what the registry holds).</summary>
    internal int GroupCount => _groups.Count;

    /// <summary>How many connections are in at least one group here (each with its list of groups).</summary>
    internal int ConnectionsInGroups => _memberships.Count;

    internal GroupMembers? FindGroup(string name) => _groups.TryGetValue(name, out var members) ? members : null;

    // Lock order: a connection's memberships, then a group. A group is retired (and taken out of
    // _groups) under its lock when its last member leaves; whoever finds a retired one looks again.
    // Each connection keeps the names of its groups, so ending one costs its own groups, not all of them.

    internal void Join(string name, WebSocketConnection connection)
    {
        if (connection.State >= WebSocketState.Closed) return;
        while (true)
        {
            var mine = _memberships.GetOrAdd(connection.Id, static _ => new Memberships());
            lock (mine)
            {
                if (mine.Retired) continue;
                if (!mine.Add(name)) return;
                AddMember(name, connection);
                // A connection this registry did not accept is not removed by its upgrade: it leaves its
                // groups when it ends, by itself.
                if (!mine.Watched && !_all.ContainsKey(connection.Id))
                {
                    mine.Watched = true;
                    connection.Completion.ContinueWith(static (_, state) =>
                    {
                        var (registry, ended) = ((WebSocketConnectionRegistry, WebSocketConnection))state!;
                        registry.LeaveAll(ended);
                    }, (this, connection), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                break;
            }
        }
        // It may have ended meanwhile, and its cleanup have run before the add.
        if (connection.State >= WebSocketState.Closed) LeaveAll(connection);
    }

    internal bool Leave(string name, WebSocketConnection connection)
    {
        while (_memberships.TryGetValue(connection.Id, out var mine))
        {
            lock (mine)
            {
                if (mine.Retired) continue;
                if (!mine.Remove(name)) return false;
                RemoveMember(name, connection);
                // In no group any more: the record goes too (a later join makes a new one), so that a
                // connection that joins and leaves groups for hours holds nothing once it has left them all.
                if (mine.Count == 0)
                {
                    mine.Retired = true;
                    _memberships.TryRemove(new KeyValuePair<long, Memberships>(connection.Id, mine));
                }
                return true;
            }
        }
        return false;
    }

    private int LeaveAll(WebSocketConnection connection)
    {
        if (!_memberships.TryRemove(connection.Id, out var mine)) return 0;
        lock (mine)
        {
            mine.Retired = true;
            int left = 0;
            foreach (var name in mine.TakeAll())
            {
                RemoveMember(name, connection);
                left++;
            }
            return left;
        }
    }

    private void AddMember(string name, WebSocketConnection connection)
    {
        while (true)
        {
            var group = _groups.GetOrAdd(name, static (name, registry) => new GroupMembers(registry, name), this);
            lock (group)
            {
                if (group.Retired) continue;
                group.Members[connection.Id] = connection;
                return;
            }
        }
    }

    private void RemoveMember(string name, WebSocketConnection connection)
    {
        if (!_groups.TryGetValue(name, out var group)) return;
        lock (group)
        {
            if (!group.Members.TryRemove(connection.Id, out _) || !group.Members.IsEmpty) return;
            group.Retired = true;
            _groups.TryRemove(new KeyValuePair<string, GroupMembers>(name, group));
        }
    }

    /// <summary>Sends to a group's members on this node; a group with none here costs a lookup.</summary>
    internal Task<int> BroadcastToGroupAsync(string name, ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken) =>
        _groups.TryGetValue(name, out var group) && !group.Members.IsEmpty
            ? Broadcast.SendAsync(group.Members.Values, PreparedMessage.Create(payload.Span, type), cancellationToken)
            : Task.FromResult(0);

    /// <summary>Sends one message to every open connection, framed once.</summary>
    public Task<int> BroadcastAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        Broadcast.SendAsync(_all.Values, PreparedMessage.Create(payload.Span, type), cancellationToken);

    /// <summary>
    /// Sends <paramref name="text"/> (UTF-8; lone surrogates become U+FFFD) to every open connection on this
    /// node, framed once; the backplane carries group broadcasts only. Returns how many it was handed to.
    /// </summary>
    public Task<int> BroadcastTextAsync(string text, CancellationToken cancellationToken = default) =>
        Broadcast.SendAsync(_all.Values, PreparedMessage.CreateText(text), cancellationToken);

    /// <summary>Closes every connection (1001 Going Away on shutdown), each bounded by its close timeout.</summary>
    public Task CloseAllAsync(CloseStatus status = CloseStatus.GoingAway, string? reason = null) =>
        Task.WhenAll(_all.Values.Select(c => CloseQuietlyAsync(c, status, reason)));

    private static async Task CloseQuietlyAsync(WebSocketConnection connection, CloseStatus status, string? reason)
    {
        try
        {
            await connection.CloseAsync(status, reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
        {
        }
    }

    // Drains and the shutdown. While one runs (or once the host is stopping) upgrades are refused with
    // 503 and a Retry-After of the time the drain has left; _drainClose is the code a connection that
    // raced past the refusal is closed with.
    private readonly Lock _drainLock = new();
    private int _drains;                 // drains running, under _drainLock
    private long _drainEndsAt;           // Stopwatch timestamp the latest drain's window ends at, under _drainLock
    private bool _shutDown;              // the host is stopping: refused for good, under _drainLock
    private volatile DrainClose? _drainClose;

    private sealed record DrainClose(CloseStatus Status, string? Reason);

    /// <summary>
    /// Whether new upgrades are refused (503 with <c>Retry-After</c>): while a <see cref="DrainAsync"/>
    /// runs, and for good once the host stops (<see cref="DuplexShutdownOptions"/>).
    /// </summary>
    public bool IsDraining => _drainClose is not null;

    /// <summary>
    /// Closes every connection open on this node with <paramref name="status"/> (1012 Service Restart by
    /// default), each at its own uniformly random moment within <paramref name="window"/>, so that their
    /// clients (whose reconnect is jittered too, see <see cref="ReconnectOptions.RestartJitter"/>) do not
    /// come back all at once. Meanwhile upgrades to every endpoint of this registry are refused with 503
    /// and a <c>Retry-After</c> of the seconds the window has left (at least the endpoint's
    /// <see cref="HandshakeLimitOptions.RetryAfterSeconds"/>), and a connection that slipped in as the drain
    /// began is closed at once. Once every close has ended (each bounded by its
    /// <see cref="WebSocketConnectionOptions.CloseTimeout"/>) upgrades are accepted again, unless the host
    /// is stopping. Usable on demand, e.g. before taking a node out of a deploy; the host's shutdown uses
    /// it when <see cref="DuplexShutdownOptions.DrainWindow"/> is set. Cancelling ends the window early:
    /// the connections not closed yet are closed at once. <see cref="TimeSpan.Zero"/> closes every one at once.
    /// </summary>
    /// <returns>How many connections it closed.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative or infinite <paramref name="window"/>, or a
    /// <paramref name="status"/> that may not be sent in a close frame.</exception>
    /// <exception cref="ArgumentException">A <paramref name="reason"/> over 123 UTF-8 bytes.</exception>
    public async Task<int> DrainAsync(TimeSpan window, CloseStatus status = CloseStatus.ServiceRestart, string? reason = "service restart",
        CancellationToken cancellationToken = default)
    {
        if (window < TimeSpan.Zero || window == Timeout.InfiniteTimeSpan || window.TotalDays > 1)
            throw new ArgumentOutOfRangeException(nameof(window), window, "Zero or a positive time of at most a day.");
        if (!CloseStatusRules.IsValidOnWire((int)status))
            throw new ArgumentOutOfRangeException(nameof(status), (int)status, "Only 1000–1003, 1007–1014 and 3000–4999 may be sent in a close frame.");
        if (reason is not null && System.Text.Encoding.UTF8.GetByteCount(reason) > Protocol.FrameWriter.MaxCloseReasonBytes)
            throw new ArgumentException("A close reason holds at most 123 UTF-8 bytes.", nameof(reason));
        long start = Stopwatch.GetTimestamp();
        lock (_drainLock)
        {
            _drains++;
            long endsAt = start + (long)(window.TotalSeconds * Stopwatch.Frequency);
            if (endsAt > _drainEndsAt) _drainEndsAt = endsAt;
            _drainClose = new DrainClose(status, reason);
        }
        try
        {
            // Set before the snapshot: a connection added after it is closed by Add.
            var connections = _all.Values.Where(c => c.State < WebSocketState.CloseSent).ToArray();
            // Which connection goes when is random too, not the registry's order (oldest first, roughly).
            Random.Shared.Shuffle(connections);
            var offsets = new double[connections.Length];
            for (int i = 0; i < offsets.Length; i++) offsets[i] = Random.Shared.NextDouble() * window.TotalMilliseconds;
            Array.Sort(offsets);
            var closes = new Task[connections.Length];
            for (int i = 0; i < connections.Length; i++)
            {
                var due = TimeSpan.FromMilliseconds(offsets[i]) - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.FromMilliseconds(1) && !cancellationToken.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(due, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                closes[i] = CloseQuietlyAsync(connections[i], status, reason);
            }
            await Task.WhenAll(closes).ConfigureAwait(false);
            return connections.Length;
        }
        finally
        {
            lock (_drainLock)
            {
                if (--_drains == 0 && !_shutDown) _drainClose = null;
            }
        }
    }

    /// <summary>The host is stopping: from now on every upgrade is refused, and one that raced in is closed with <paramref name="status"/>.</summary>
    internal void BeginShutdown(CloseStatus status, string? reason)
    {
        lock (_drainLock)
        {
            _shutDown = true;
            _drainClose ??= new DrainClose(status, reason);
        }
    }

    /// <summary>The host starts (again): upgrades are accepted unless a drain runs.</summary>
    internal void EndShutdown()
    {
        lock (_drainLock)
        {
            if (!_shutDown) return;
            _shutDown = false;
            if (_drains == 0) _drainClose = null;
        }
    }

    /// <summary>
    /// Null when upgrades are accepted; while draining, the 503 refusal with its Retry-After: the seconds
    /// the drain's window has left, at least <paramref name="minimumRetryAfter"/>.
    /// </summary>
    internal HandshakeDecision? DrainRefusal(int minimumRetryAfter)
    {
        if (_drainClose is null) return null;
        long endsAt;
        lock (_drainLock) endsAt = _drainEndsAt;
        double left = (endsAt - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency;
        int retryAfter = Math.Max(minimumRetryAfter, (int)Math.Ceiling(Math.Max(0, left)));
        return new HandshakeDecision(503, "the server is draining its connections") { RetryAfterSeconds = retryAfter };
    }
}

/// <summary>The members of one group on this node; in the registry only while there are some.</summary>
internal sealed class GroupMembers(WebSocketConnectionRegistry registry, string name)
{
    public readonly ConcurrentDictionary<long, WebSocketConnection> Members = new();

    /// <summary>Set, under the lock, when the last member left and the group was taken out of the registry.</summary>
    public bool Retired;

    /// <summary>What the registry's indexer hands out while the group exists, so reading it allocates nothing.</summary>
    public ConnectionGroup Handle { get; } = new(registry, name);
}

/// <summary>
/// The groups one connection is in, guarded by its own lock. Most connections are in a few groups: a
/// small array searched in order holds them, and a set takes over for a connection in many. Measured
/// for 10,000 connections joining one group: 207 B each with this record (335 B when it was a HashSet
/// from the start), 63 B for the group's entry alone as before there was any record; the record is
/// what lets an ending connection leave its own groups instead of visiting every group.
/// </summary>
internal sealed class Memberships
{
    private const int FewMax = 8;
    private string[]? _few;
    private int _count;
    private HashSet<string>? _many;

    /// <summary>Set when the connection ended and left its groups; a join that finds it looks again.</summary>
    public bool Retired;

    /// <summary>Whether a continuation on the connection's end takes it out of its groups.</summary>
    public bool Watched;

    public int Count => _many?.Count ?? _count;

    public bool Add(string name)
    {
        if (_many is not null) return _many.Add(name);
        if (IndexOf(name) >= 0) return false;
        if (_count == FewMax)
        {
            _many = new HashSet<string>(_few!, StringComparer.Ordinal) { name };
            _few = null;
            _count = 0;
            return true;
        }
        if (_few is null || _count == _few.Length) Array.Resize(ref _few, _few is null ? 2 : _few.Length * 2);
        _few[_count++] = name;
        return true;
    }

    public bool Remove(string name)
    {
        if (_many is not null) return _many.Remove(name);
        int i = IndexOf(name);
        if (i < 0) return false;
        _few![i] = _few[--_count];
        _few[_count] = null!;
        return true;
    }

    /// <summary>The names, emptied: what a connection that ended leaves.</summary>
    public IEnumerable<string> TakeAll()
    {
        IEnumerable<string> names = _many ?? (IEnumerable<string>)(_few ?? []).Take(_count).ToArray();
        _many = null;
        _few = null;
        _count = 0;
        return names;
    }

    private int IndexOf(string name)
    {
        for (int i = 0; i < _count; i++)
            if (string.Equals(_few![i], name, StringComparison.Ordinal)) return i;
        return -1;
    }
}
