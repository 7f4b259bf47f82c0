using System.Collections.Concurrent;

namespace Duplex.Server;

/// <summary>A named set of connections that messages can be broadcast to.</summary>
public sealed class ConnectionGroup
{
    private readonly ConcurrentDictionary<long, WebSocketConnection> _members = new();

    private readonly IGroupBackplane? _backplane;

    internal ConnectionGroup(string name, IGroupBackplane? backplane = null)
    {
        Name = name;
        _backplane = backplane;
    }

    /// <summary>The group's name, as given to the registry's indexer (compared ordinally).</summary>
    public string Name { get; }

    /// <summary>How many members the group has on this node.</summary>
    public int Count => _members.Count;

    /// <summary>A snapshot of the group's members on this node.</summary>
    public ICollection<WebSocketConnection> Members => _members.Values;

    /// <summary>
    /// Adds <paramref name="connection"/> to the group on this node; adding a member again does nothing, and
    /// a connection already closed is not added. A member leaves by itself when it ends, through the
    /// registry of the server that accepted it.
    /// </summary>
    public void Add(WebSocketConnection connection)
    {
        if (connection.State >= WebSocketState.Closed) return;
        _members[connection.Id] = connection;
        // It may have ended between the check and the add; the registry's cleanup could have run already.
        if (connection.State >= WebSocketState.Closed) _members.TryRemove(connection.Id, out _);
    }

    /// <summary>Takes <paramref name="connection"/> out of the group; returns whether it was a member.</summary>
    public bool Remove(WebSocketConnection connection) => _members.TryRemove(connection.Id, out _);

    /// <summary>
    /// Sends one message to every member, framed once, and — with a backplane — to the group's members
    /// on the other nodes. Returns how many local members it was handed to.
    /// </summary>
    public async Task<int> BroadcastAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default)
    {
        int local = await BroadcastLocalAsync(payload, type, cancellationToken).ConfigureAwait(false);
        if (_backplane is not null) await _backplane.PublishAsync(Name, payload, type, cancellationToken).ConfigureAwait(false);
        return local;
    }

    /// <summary>
    /// Sends <paramref name="text"/> (UTF-8; lone surrogates become U+FFFD) as <see cref="BroadcastAsync"/>
    /// does: to every member here and, with a backplane, on the other nodes. Returns how many local members it was handed to.
    /// </summary>
    public Task<int> BroadcastTextAsync(string text, CancellationToken cancellationToken = default) =>
        BroadcastAsync(System.Text.Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, cancellationToken);

    /// <summary>Sends to this node's members only (what a backplane delivers from other nodes).</summary>
    public Task<int> BroadcastLocalAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        _members.IsEmpty ? Task.FromResult(0) : Broadcast.SendAsync(_members.Values, PreparedMessage.Create(payload.Span, type), cancellationToken);
}
