namespace Duplex.SocketIO;

/// <summary>An event a client emitted: its name, arguments, and the acknowledgement it asked for, if any.</summary>
public sealed class SocketIOEvent
{
    private readonly long? _ackId;
    private int _acked;

    internal SocketIOEvent(SocketIOSocket socket, string name, SocketIOArgs args, long? ackId)
    {
        Socket = socket;
        Name = name;
        Args = args;
        _ackId = ackId;
    }

    /// <summary>The socket the client emitted on (one namespace's).</summary>
    public SocketIOSocket Socket { get; }
    /// <summary>The event name (a numeric one, which some clients send, as its digits).</summary>
    public string Name { get; }
    /// <summary>The arguments after the name; <c>byte[]</c> parts read back from the packet's attachments.</summary>
    public SocketIOArgs Args { get; private set; }

    /// <summary>
    /// Replaces the arguments the event's handlers get, serialized as an emit's are (<c>byte[]</c> parts as
    /// attachments): for a socket middleware (<see cref="SocketIOSocket.Use(Func{SocketIOEvent, ValueTask})"/>)
    /// that rewrites an event, as the reference's middleware changes the packet's array. Handlers that
    /// already have the event (catch-all listeners) keep reading it, and see the change.
    /// </summary>
    public void SetArgs(params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = Socket.Namespace.Server.JsonOptions;
        var packet = Adapters.BroadcastPacket.FromEncoded(SocketIOEncoder.Event(Socket.Namespace.Name, Name, args, null, options)).Packet;
        Args = SocketIOArgs.From(packet.Data, 1, packet.Attachments, options);
    }

    /// <summary>True when the client passed a callback and waits for <see cref="AckAsync"/>.</summary>
    public bool HasAck => _ackId is not null;

    /// <summary>Answers the client's callback with these arguments (once; later calls do nothing).</summary>
    public ValueTask AckAsync(params object?[] args)
    {
        if (_ackId is not long id || Interlocked.Exchange(ref _acked, 1) != 0) return ValueTask.CompletedTask;
        Socket.SendAck(id, args);
        return ValueTask.CompletedTask;
    }
}
