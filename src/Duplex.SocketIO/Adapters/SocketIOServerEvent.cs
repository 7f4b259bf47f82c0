namespace Duplex.SocketIO.Adapters;

/// <summary>
/// An event another server of the cluster sent with <c>ServerSideEmitAsync</c> (the reference's
/// <c>io.serverSideEmit</c>). When the sender asked for an acknowledgement, <see cref="AckAsync"/>
/// answers it, once, with one value.
/// </summary>
public sealed class SocketIOServerEvent
{
    private readonly Func<object?, ValueTask>? _ack;
    private int _acked;

    /// <summary>
    /// The event for handlers; an adapter makes it for what another server sent, with <paramref name="ack"/>
    /// sending the answer back (null when the sender waits for none).
    /// </summary>
    public SocketIOServerEvent(string name, SocketIOArgs args, Func<object?, ValueTask>? ack)
    {
        Name = name;
        Args = args;
        _ack = ack;
    }

    /// <summary>The event name.</summary>
    public string Name { get; }

    /// <summary>The arguments after the name.</summary>
    public SocketIOArgs Args { get; }

    /// <summary>True when the sending server waits for an answer through <see cref="AckAsync"/>.</summary>
    public bool WantsAck => _ack is not null;

    /// <summary>Answers the sending server with <paramref name="value"/>, once; later calls, and calls when it waits for none, do nothing.</summary>
    public ValueTask AckAsync(object? value)
    {
        if (_ack is null || Interlocked.Exchange(ref _acked, 1) != 0) return ValueTask.CompletedTask;
        return _ack(value);
    }
}
