namespace Duplex.Server;

/// <summary>
/// A named set of connections that messages can be broadcast to. It is a name in its registry: the
/// registry holds a group only while it has members on this node, so reading a group, or a broadcast
/// to one, costs nothing to keep, and a group whose members have all left goes away by itself. A
/// <see cref="ConnectionGroup"/> held across that stays valid: adding to it brings the group back.
/// </summary>
public sealed class ConnectionGroup
{
    private readonly WebSocketConnectionRegistry _registry;

    internal ConnectionGroup(WebSocketConnectionRegistry registry, string name)
    {
        _registry = registry;
        Name = name;
    }

    /// <summary>The group's name, as given to the registry's indexer (compared ordinally).</summary>
    public string Name { get; }

    /// <summary>How many members the group has on this node.</summary>
    public int Count => _registry.FindGroup(Name)?.Members.Count ?? 0;

    /// <summary>A snapshot of the group's members on this node.</summary>
    public ICollection<WebSocketConnection> Members => _registry.FindGroup(Name)?.Members.Values ?? [];

    /// <summary>
    /// Adds <paramref name="connection"/> to the group on this node; adding a member again does nothing, and
    /// a connection already closed is not added. A member leaves by itself when it ends.
    /// </summary>
    public void Add(WebSocketConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _registry.Join(Name, connection);
    }

    /// <summary>Takes <paramref name="connection"/> out of the group; returns whether it was a member.</summary>
    public bool Remove(WebSocketConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _registry.Leave(Name, connection);
    }

    /// <summary>
    /// Sends one message to every member, framed once, and — with a backplane — to the group's members
    /// on the other nodes. Returns how many local members it was handed to.
    /// </summary>
    public async Task<int> BroadcastAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default)
    {
        int local = await BroadcastLocalAsync(payload, type, cancellationToken).ConfigureAwait(false);
        if (_registry.Backplane is { } backplane) await backplane.PublishAsync(Name, payload, type, cancellationToken).ConfigureAwait(false);
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
        _registry.BroadcastToGroupAsync(Name, payload, type, cancellationToken);
}
