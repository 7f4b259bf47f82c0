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

    public SocketIOServerEvent(string name, SocketIOArgs args, Func<object?, ValueTask>? ack)
    {
        Name = name;
        Args = args;
        _ack = ack;
    }

    public string Name { get; }

    public SocketIOArgs Args { get; }

    public bool WantsAck => _ack is not null;

    public ValueTask AckAsync(object? value)
    {
        if (_ack is null || Interlocked.Exchange(ref _acked, 1) != 0) return ValueTask.CompletedTask;
        return _ack(value);
    }
}
