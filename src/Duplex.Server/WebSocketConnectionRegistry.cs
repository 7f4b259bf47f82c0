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
    private readonly ConcurrentDictionary<string, ConnectionGroup> _groups = new(StringComparer.Ordinal);

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

    /// <summary>The group of this name, created on first use.</summary>
    public ConnectionGroup this[string group] => _groups.GetOrAdd(group, static (name, backplane) => new ConnectionGroup(name, backplane), Backplane);

    /// <summary>Registers a connection; the upgrade that made it calls <see cref="Remove"/> once it has ended.</summary>
    internal void Add(WebSocketConnection connection) => _all[connection.Id] = connection;

    internal void Remove(WebSocketConnection connection)
    {
        _all.TryRemove(connection.Id, out WebSocketConnection? _);
        foreach (var group in _groups.Values) group.Remove(connection);
    }

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
