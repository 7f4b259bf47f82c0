using System.Collections.Concurrent;
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

    /// <summary>Registers a connection; the upgrade that made it calls <see cref="Remove"/> once it has ended.</summary>
    internal void Add(WebSocketConnection connection) => _all[connection.Id] = connection;

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
        Task.WhenAll(_all.Values.Select(async c =>
        {
            try
            {
                await c.CloseAsync(status, reason).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
            {
            }
        }));
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
