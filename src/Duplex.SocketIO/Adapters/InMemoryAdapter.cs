using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// Rooms of one namespace in this process: which sockets are in which room, and the delivery of an
/// already-encoded packet to the sockets a broadcast selects. Every socket is in the room named by its id.
/// </summary>
public sealed class InMemoryAdapter
{
    private readonly SocketIONamespace _namespace;
    private readonly object _gate = new();
    private readonly Dictionary<string, HashSet<string>> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _socketRooms = new(StringComparer.Ordinal);

    internal InMemoryAdapter(SocketIONamespace ns) => _namespace = ns;

    public void AddAll(string socketId, IEnumerable<string> rooms)
    {
        lock (_gate)
        {
            if (!_socketRooms.TryGetValue(socketId, out var mine)) _socketRooms[socketId] = mine = new HashSet<string>(StringComparer.Ordinal);
            foreach (var room in rooms)
            {
                mine.Add(room);
                if (!_rooms.TryGetValue(room, out var members)) _rooms[room] = members = new HashSet<string>(StringComparer.Ordinal);
                members.Add(socketId);
            }
        }
    }

    public void Delete(string socketId, string room)
    {
        lock (_gate)
        {
            if (_socketRooms.TryGetValue(socketId, out var mine)) mine.Remove(room);
            RemoveMemberLocked(room, socketId);
        }
    }

    public void DeleteAll(string socketId)
    {
        lock (_gate)
        {
            if (!_socketRooms.Remove(socketId, out var mine)) return;
            foreach (var room in mine) RemoveMemberLocked(room, socketId);
        }
    }

    private void RemoveMemberLocked(string room, string socketId)
    {
        if (_rooms.TryGetValue(room, out var members) && members.Remove(socketId) && members.Count == 0) _rooms.Remove(room);
    }

    public IReadOnlySet<string> RoomsOf(string socketId)
    {
        lock (_gate) return _socketRooms.TryGetValue(socketId, out var mine) ? new HashSet<string>(mine, StringComparer.Ordinal) : new HashSet<string>();
    }

    /// <summary>The rooms that have members now (socket-id rooms included).</summary>
    public IReadOnlyCollection<string> Rooms
    {
        get
        {
            lock (_gate) return _rooms.Keys.ToArray();
        }
    }

    /// <summary>The sockets in any of <paramref name="rooms"/> (all when empty) and in none of <paramref name="except"/>.</summary>
    public List<SocketIOSocket> Select(IReadOnlySet<string> rooms, IReadOnlySet<string> except)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            if (rooms.Count == 0) ids.UnionWith(_socketRooms.Keys);
            else
                foreach (var room in rooms)
                    if (_rooms.TryGetValue(room, out var members)) ids.UnionWith(members);
            foreach (var room in except)
                if (_rooms.TryGetValue(room, out var members)) ids.ExceptWith(members);
        }
        var sockets = new List<SocketIOSocket>(ids.Count);
        foreach (var id in ids)
            if (_namespace.TryGetSocket(id, out var socket)) sockets.Add(socket);
        return sockets;
    }

    /// <summary>
    /// Hands the same encoded packets to every selected socket (frame once, send many); a volatile
    /// broadcast skips sockets that cannot take it right now. Returns the recipients.
    /// </summary>
    public List<SocketIOSocket> Broadcast(EnginePacket[] packets, IReadOnlySet<string> rooms, IReadOnlySet<string> except, bool isVolatile, Action<SocketIOSocket>? beforeSend = null)
    {
        var recipients = Select(rooms, except);
        var handed = new List<SocketIOSocket>(recipients.Count);
        foreach (var socket in recipients)
        {
            if (isVolatile && !socket.Connection.Engine.IsWritable) continue;
            beforeSend?.Invoke(socket);
            if (socket.SendPackets(packets)) handed.Add(socket);
        }
        return handed;
    }
}
