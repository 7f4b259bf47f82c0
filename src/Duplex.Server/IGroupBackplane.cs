namespace Duplex.Server;

/// <summary>
/// Carries group broadcasts between server processes, so that <c>registry["lobby"].BroadcastAsync</c>
/// reaches the group's members on every node. Delivery is at most once, as pub/sub is.
/// </summary>
public interface IGroupBackplane
{
    /// <summary>Hands a broadcast to the other nodes. Never throws for an outage: it is logged and counted.</summary>
    Task PublishAsync(string group, ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken cancellationToken = default);

    /// <summary>Starts delivering the other nodes' broadcasts to <paramref name="deliver"/>.</summary>
    Task StartAsync(Func<string, ReadOnlyMemory<byte>, WebSocketMessageType, Task> deliver, CancellationToken cancellationToken = default);
}
