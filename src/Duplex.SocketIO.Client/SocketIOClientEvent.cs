namespace Duplex.SocketIO.Client;

/// <summary>An event the server emitted to a namespace: its name, arguments, and the acknowledgement it asked for, if any.</summary>
public sealed class SocketIOClientEvent
{
    private readonly SocketIOClientSocket _socket;
    private readonly long? _ackId;
    private int _acked;

    internal SocketIOClientEvent(SocketIOClientSocket socket, string name, SocketIOArgs args, long? ackId)
    {
        _socket = socket;
        Name = name;
        Args = args;
        _ackId = ackId;
    }

    /// <summary>The namespace socket the event came to.</summary>
    public SocketIOClientSocket Socket => _socket;

    /// <summary>The event name.</summary>
    public string Name { get; }

    /// <summary>
    /// The arguments. With connection state recovery on, the server appends its offset (a string) as
    /// the last one, as the npm client also shows it.
    /// </summary>
    public SocketIOArgs Args { get; }

    /// <summary>True when the server waits for an answer through <see cref="AckAsync"/>.</summary>
    public bool HasAck => _ackId is not null;

    /// <summary>Answers the server's acknowledgement with these arguments (once; later calls do nothing).</summary>
    public ValueTask AckAsync(params object?[] args)
    {
        if (_ackId is not long id || Interlocked.Exchange(ref _acked, 1) != 0) return ValueTask.CompletedTask;
        _socket.SendAck(id, args);
        return ValueTask.CompletedTask;
    }
}
