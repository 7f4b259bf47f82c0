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

    public WebSocketConnectionRegistry() { }

    /// <summary>A registry whose group broadcasts also go to the other nodes through <paramref name="backplane"/>.</summary>
    public WebSocketConnectionRegistry(IGroupBackplane? backplane) => Backplane = backplane;

    /// <summary>Where group broadcasts go beyond this process; null when this server stands alone.</summary>
    public IGroupBackplane? Backplane { get; }

    public int Count => _all.Count;

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
