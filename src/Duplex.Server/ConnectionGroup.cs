using System.Collections.Concurrent;

namespace Duplex.Server;

/// <summary>A named set of connections that messages can be broadcast to.</summary>
public sealed class ConnectionGroup
{
    private readonly ConcurrentDictionary<long, WebSocketConnection> _members = new();

    internal ConnectionGroup(string name) => Name = name;

    public string Name { get; }

    public int Count => _members.Count;

    public ICollection<WebSocketConnection> Members => _members.Values;

    public void Add(WebSocketConnection connection)
    {
        if (connection.State >= WebSocketState.Closed) return;
        _members[connection.Id] = connection;
        // It may have ended between the check and the add; the registry's cleanup could have run already.
        if (connection.State >= WebSocketState.Closed) _members.TryRemove(connection.Id, out _);
    }

    public bool Remove(WebSocketConnection connection) => _members.TryRemove(connection.Id, out _);

    /// <summary>Sends one message to every member, framed once. Returns how many it reached.</summary>
    public Task<int> BroadcastAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        Broadcast.SendAsync(_members.Values, PreparedMessage.Create(payload.Span, type), cancellationToken);

    public Task<int> BroadcastAsync(PreparedMessage message, CancellationToken cancellationToken = default) =>
        Broadcast.SendAsync(_members.Values, message, cancellationToken);

    public Task<int> BroadcastTextAsync(string text, CancellationToken cancellationToken = default) =>
        Broadcast.SendAsync(_members.Values, PreparedMessage.CreateText(text), cancellationToken);
}
