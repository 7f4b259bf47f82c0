using System.Buffers;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Adapters;

/// <summary>
/// The default adapter: rooms and broadcasts of one process, nothing forwarded anywhere. With
/// connection state recovery on (<see cref="SocketIOServer.ConnectionStateRecovery"/>) it also keeps
/// disconnected sessions and the events sent meanwhile, each numbered with an offset appended as its
/// last argument (the reference's session-aware adapter).
/// </summary>
public sealed class InMemoryAdapter(SocketIONamespace ns) : SocketIOAdapter(ns)
{
    private sealed record StoredPacket(string Offset, BroadcastOptions Options, BroadcastPacket Packet, long EmittedAt);

    private readonly object _recoveryGate = new();
    private readonly LinkedList<StoredPacket> _packets = new();
    private readonly Dictionary<string, LinkedListNode<StoredPacket>> _byOffset = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (SocketSession Session, long DisconnectedAt)> _sessions = new(StringComparer.Ordinal);
    private readonly string _offsetPrefix = EngineIOServer.NewId()[..8] + "-";
    private long _nextOffset;

    private ConnectionStateRecoveryOptions? Recovery => Namespace.Server.ConnectionStateRecovery;

    /// <inheritdoc/>
    /// <remarks>
    /// With connection state recovery on, an event without an ack id that is not volatile is first numbered
    /// with an offset, appended as its last argument, and kept for clients that come back.
    /// </remarks>
    public override ValueTask<int> BroadcastAsync(BroadcastPacket packet, BroadcastOptions options, CancellationToken cancellationToken = default)
    {
        // Events without an ack id, not volatile, are numbered and kept: acks cannot be replayed, and
        // volatile events may be lost anyway.
        if (Recovery is { } recovery && !options.Volatile && packet.Packet.Id is null
            && packet.Packet.Type is SocketIOPacketType.Event or SocketIOPacketType.BinaryEvent)
            packet = Store(packet, options, recovery);
        return ValueTask.FromResult(BroadcastLocal(packet, options));
    }

    private BroadcastPacket Store(BroadcastPacket packet, BroadcastOptions options, ConnectionStateRecoveryOptions recovery)
    {
        string offset = _offsetPrefix + Interlocked.Increment(ref _nextOffset).ToString("x");
        var original = packet.Packet;
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var item in original.Data!.Value.EnumerateArray()) item.WriteTo(writer);
            writer.WriteStringValue(offset);
            writer.WriteEndArray();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var numbered = new SocketIOPacket { Type = original.Type, Namespace = original.Namespace, Data = document.RootElement.Clone(), AttachmentCount = original.AttachmentCount };
        numbered.Attachments.AddRange(original.Attachments);
        var stored = new StoredPacket(offset, options, BroadcastPacket.FromPacket(numbered), Environment.TickCount64);
        lock (_recoveryGate)
        {
            _byOffset[offset] = _packets.AddLast(stored);
            Trim(recovery);
        }
        return stored.Packet;
    }

    private void Trim(ConnectionStateRecoveryOptions recovery)
    {
        long threshold = Environment.TickCount64 - (long)recovery.MaxDisconnectionDuration.TotalMilliseconds;
        while (_packets.First is { } first && (first.Value.EmittedAt < threshold || _packets.Count > recovery.MaxStoredPackets))
        {
            _byOffset.Remove(first.Value.Offset);
            _packets.RemoveFirst();
        }
        if (_sessions.Count > 0)
            foreach (var (pid, entry) in _sessions.ToArray())
                if (entry.DisconnectedAt < threshold) _sessions.Remove(pid);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Kept for <see cref="ConnectionStateRecoveryOptions.MaxDisconnectionDuration"/>; nothing is kept while
    /// recovery is off.
    /// </remarks>
    public override void PersistSession(SocketSession session)
    {
        if (Recovery is not { } recovery) return;
        lock (_recoveryGate)
        {
            _sessions[session.Pid] = (session, Environment.TickCount64);
            Trim(recovery);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Null also when the session expired or <paramref name="offset"/> is no longer kept (older than
    /// <see cref="ConnectionStateRecoveryOptions.MaxDisconnectionDuration"/>, or past
    /// <see cref="ConnectionStateRecoveryOptions.MaxStoredPackets"/>). A session is handed out once: it is
    /// forgotten on that call, whether or not it could be restored.
    /// </remarks>
    public override ValueTask<RestoredSession?> RestoreSessionAsync(string pid, string offset)
    {
        if (Recovery is not { } recovery) return ValueTask.FromResult<RestoredSession?>(null);
        lock (_recoveryGate)
        {
            Trim(recovery);
            if (!_sessions.Remove(pid, out var entry)) return ValueTask.FromResult<RestoredSession?>(null); // unknown or expired
            if (!_byOffset.TryGetValue(offset, out var last)) return ValueTask.FromResult<RestoredSession?>(null); // offset too old
            var rooms = entry.Session.Rooms;
            var missed = new List<BroadcastPacket>();
            for (var node = last.Next; node is not null; node = node.Next)
                if (Includes(rooms, node.Value.Options)) missed.Add(node.Value.Packet);
            return ValueTask.FromResult<RestoredSession?>(new RestoredSession(entry.Session, missed));
        }
    }

    private static bool Includes(IReadOnlyCollection<string> sessionRooms, BroadcastOptions options) =>
        (options.Rooms.Count == 0 || sessionRooms.Any(options.Rooms.Contains)) && !sessionRooms.Any(options.Except.Contains);
}
