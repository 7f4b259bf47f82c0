namespace Duplex.SocketIO;

/// <summary>
/// A selection of sockets in one namespace — by rooms (<see cref="To"/>), minus rooms
/// (<see cref="Except"/>) — and what can be done to them. Immutable: each call returns a new operator.
/// An emit encodes its packet once for all recipients.
/// </summary>
public sealed class BroadcastOperator
{
    private static readonly HashSet<string> None = new();
    private readonly SocketIONamespace _namespace;
    private readonly IReadOnlySet<string> _rooms;
    private readonly IReadOnlySet<string> _except;
    private readonly bool _volatile;
    private readonly TimeSpan? _timeout;

    internal BroadcastOperator(SocketIONamespace ns, IReadOnlySet<string>? rooms = null, IReadOnlySet<string>? except = null, bool isVolatile = false, TimeSpan? timeout = null)
    {
        _namespace = ns;
        _rooms = rooms ?? None;
        _except = except ?? None;
        _volatile = isVolatile;
        _timeout = timeout;
    }

    private static HashSet<string> With(IReadOnlySet<string> set, IEnumerable<string> more)
    {
        var copy = new HashSet<string>(set, StringComparer.Ordinal);
        copy.UnionWith(more);
        return copy;
    }

    /// <summary>Targets the sockets in <paramref name="rooms"/> (in addition to rooms already targeted).</summary>
    public BroadcastOperator To(params string[] rooms) => new(_namespace, With(_rooms, rooms), _except, _volatile, _timeout);

    /// <inheritdoc cref="To"/>
    public BroadcastOperator In(params string[] rooms) => To(rooms);

    /// <summary>Leaves out the sockets in <paramref name="rooms"/>.</summary>
    public BroadcastOperator Except(params string[] rooms) => new(_namespace, _rooms, With(_except, rooms), _volatile, _timeout);

    /// <summary>Skips recipients that cannot take the packet right away instead of queueing it.</summary>
    public BroadcastOperator Volatile => new(_namespace, _rooms, _except, true, _timeout);

    /// <summary>
    /// Accepted for API parity; WebSocket compression is decided per connection by the endpoint, so the
    /// flag changes nothing.
    /// </summary>
    public BroadcastOperator Compress(bool compress) => this;

    /// <summary>How long <see cref="EmitWithAckAsync"/> waits for every recipient.</summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => new(_namespace, _rooms, _except, _volatile, timeout);

    /// <summary>Emits to every selected socket. Returns how many it was handed to.</summary>
    public ValueTask<int> EmitAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        var packets = SocketIOEncoder.Event(_namespace.Name, eventName, args, null, _namespace.Server.JsonOptions);
        return ValueTask.FromResult(_namespace.Adapter.Broadcast(packets, _rooms, _except, _volatile).Count);
    }

    /// <summary>
    /// Emits with an acknowledgement requested from every selected socket, and returns their answers
    /// once all have come. Throws <see cref="TimeoutException"/> when <see cref="Timeout"/> passes first;
    /// recipients that disconnect meanwhile are not waited for.
    /// </summary>
    public async Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        long id = _namespace.NextAckId();
        var packets = SocketIOEncoder.Event(_namespace.Name, eventName, args, id, _namespace.Server.JsonOptions);
        var waits = new List<(SocketIOSocket Socket, Task<SocketIOArgs> Answer)>();
        _namespace.Adapter.Broadcast(packets, _rooms, _except, _volatile, socket => waits.Add((socket, socket.ExpectAck(id))));
        var all = Task.WhenAll(waits.Select(w => w.Answer.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default)));
        try
        {
            var answers = _timeout is { } timeout ? await all.WaitAsync(timeout).ConfigureAwait(false) : await all.ConfigureAwait(false);
            return answers.Where(a => a is not null).ToArray()!;
        }
        catch (TimeoutException)
        {
            foreach (var (socket, _) in waits) socket.ForgetAck(id);
            throw;
        }
    }

    /// <summary>The selected sockets (of this process).</summary>
    public ValueTask<IReadOnlyList<SocketIOSocket>> FetchSocketsAsync() =>
        ValueTask.FromResult<IReadOnlyList<SocketIOSocket>>(_namespace.Adapter.Select(_rooms, _except));

    /// <summary>Makes the selected sockets join <paramref name="rooms"/>.</summary>
    public void SocketsJoin(params string[] rooms)
    {
        foreach (var socket in _namespace.Adapter.Select(_rooms, _except)) socket.Join(rooms);
    }

    /// <summary>Makes the selected sockets leave <paramref name="room"/>.</summary>
    public void SocketsLeave(string room)
    {
        foreach (var socket in _namespace.Adapter.Select(_rooms, _except)) socket.Leave(room);
    }

    /// <summary>Disconnects the selected sockets; with <paramref name="close"/> their whole connections.</summary>
    public void DisconnectSockets(bool close = false)
    {
        foreach (var socket in _namespace.Adapter.Select(_rooms, _except)) socket.Disconnect(close);
    }
}
