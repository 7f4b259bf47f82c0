using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// Emits made while a namespace is not connected, held (encoded) in order to go out on connection.
/// Bounded: past <see cref="Capacity"/> nothing more is accepted. Not thread-safe (its socket locks).
/// </summary>
internal sealed class SendBuffer(int capacity)
{
    private readonly List<(EnginePacket[] Packets, long? AckId)> _items = new();

    public int Capacity { get; } = capacity;

    public int Count => _items.Count;

    public bool TryAdd(EnginePacket[] packets, long? ackId)
    {
        if (_items.Count >= Capacity) return false;
        _items.Add((packets, ackId));
        return true;
    }

    /// <summary>Drops the emit waiting for <paramref name="ackId"/> (its ack timed out before it could be sent).</summary>
    public bool RemoveAck(long ackId) => _items.RemoveAll(i => i.AckId == ackId) > 0;

    /// <summary>Everything held, oldest first; the buffer is empty afterwards.</summary>
    public List<(EnginePacket[] Packets, long? AckId)> Drain()
    {
        var items = new List<(EnginePacket[] Packets, long? AckId)>(_items);
        _items.Clear();
        return items;
    }
}
