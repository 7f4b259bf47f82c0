using System.Text.Json;
using Duplex.SocketIO.Adapters;
using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO;

/// <summary>
/// A selection of sockets in one namespace — by rooms (<see cref="To"/>), minus rooms
/// (<see cref="Except"/>) — and what can be done to them, on every server the namespace's adapter
/// joins. Immutable: each call returns a new operator. An emit encodes its packet once for all recipients.
/// </summary>
public sealed class BroadcastOperator
{
    private readonly SocketIONamespace _namespace;
    private readonly BroadcastOptions _options;

    internal BroadcastOperator(SocketIONamespace ns, BroadcastOptions? options = null)
    {
        _namespace = ns;
        _options = options ?? BroadcastOptions.All;
    }

    private static HashSet<string> With(IReadOnlySet<string> set, IEnumerable<string> more)
    {
        var copy = new HashSet<string>(set, StringComparer.Ordinal);
        copy.UnionWith(more);
        return copy;
    }

    private BroadcastOperator With(BroadcastOptions options) => new(_namespace, options);

    /// <summary>What this operator selects, as adapters receive it.</summary>
    public BroadcastOptions Options => _options;

    /// <summary>Targets the sockets in <paramref name="rooms"/> (in addition to rooms already targeted).</summary>
    public BroadcastOperator To(params string[] rooms) => With(_options with { Rooms = With(_options.Rooms, rooms) });

    /// <inheritdoc cref="To"/>
    public BroadcastOperator In(params string[] rooms) => To(rooms);

    /// <summary>Leaves out the sockets in <paramref name="rooms"/>.</summary>
    public BroadcastOperator Except(params string[] rooms) => With(_options with { Except = With(_options.Except, rooms) });

    /// <summary>Skips recipients that cannot take the packet right away instead of queueing it.</summary>
    public BroadcastOperator Volatile => With(_options with { Volatile = true });

    /// <summary>This server's sockets only: nothing is forwarded to other servers.</summary>
    public BroadcastOperator Local => With(_options with { Local = true });

    /// <summary>
    /// With false, the packet goes out uncompressed (forwarded to other nodes too): no permessage-deflate
    /// to WebSocket recipients that agreed to it, no HTTP compression of a polling response holding only
    /// such packets.
    /// </summary>
    public BroadcastOperator Compress(bool compress) => With(_options with { Compress = compress });

    /// <summary>How long <see cref="EmitWithAckAsync"/> and <see cref="ServerSideEmitWithAckAsync"/> wait.</summary>
    public BroadcastOperator Timeout(TimeSpan timeout) => With(_options with { Timeout = timeout });

    /// <summary>Emits to every selected socket. Returns how many sockets of this server it was handed to.</summary>
    public ValueTask<int> EmitAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        var packet = BroadcastPacket.FromEncoded(SocketIOEncoder.Event(_namespace.Server.Parser, _namespace.Name, eventName, args, null, _namespace.Server.JsonOptions), _namespace.Server.Parser);
        return _namespace.Adapter.BroadcastAsync(packet, _options);
    }

    /// <summary>
    /// Emits with an acknowledgement requested from every selected socket (on every server), and returns
    /// their answers once all have come. Throws <see cref="SocketIOBroadcastAckTimeoutException"/> (a
    /// <see cref="TimeoutException"/> holding the answers that did come) when <see cref="Timeout"/> passes first (with several servers and no timeout given, the adapter's request timeout applies);
    /// recipients of this server that disconnect meanwhile are not waited for.
    /// </summary>
    public async Task<IReadOnlyList<SocketIOArgs>> EmitWithAckAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        var adapter = _namespace.Adapter;
        var packet = BroadcastPacket.FromEncoded(SocketIOEncoder.Event(_namespace.Server.Parser, _namespace.Name, eventName, args, null, _namespace.Server.JsonOptions), _namespace.Server.Parser);
        int servers = _options.Local ? 1 : await adapter.ServerCountAsync().ConfigureAwait(false);
        var timeout = _options.Timeout ?? (servers > 1 ? adapter.RequestsTimeout : System.Threading.Timeout.InfiniteTimeSpan);

        var gate = new object();
        int reported = 0, expected = 0, received = 0;
        var answers = new List<SocketIOArgs>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (reported >= servers && received >= expected) done.TrySetResult();
        }
        using var forget = new CancellationTokenSource();
        await adapter.BroadcastWithAckAsync(packet, _options with { Timeout = timeout },
            count =>
            {
                lock (gate)
                {
                    reported++;
                    expected += count;
                    Check();
                }
            },
            answer =>
            {
                lock (gate)
                {
                    received++;
                    if (answer is not null) answers.Add(answer);
                    Check();
                }
            }, forget.Token).ConfigureAwait(false);
        try
        {
            await done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            forget.Cancel();
            lock (gate) throw new SocketIOBroadcastAckTimeoutException(expected, answers.ToArray());
        }
        lock (gate) return answers.ToArray();
    }

    /// <summary>The selected sockets of every server: this server's as themselves (<see cref="FetchedSocket.Local"/>), others' as descriptions.</summary>
    public ValueTask<IReadOnlyList<FetchedSocket>> FetchSocketsAsync(CancellationToken cancellationToken = default) =>
        _namespace.Adapter.FetchSocketsAsync(_options, cancellationToken);

    /// <summary>Makes the selected sockets (of every server) join <paramref name="rooms"/>.</summary>
    public ValueTask SocketsJoinAsync(params string[] rooms) => _namespace.Adapter.AddSocketsAsync(_options, rooms);

    /// <summary>Makes the selected sockets (of every server) leave <paramref name="rooms"/>.</summary>
    public ValueTask SocketsLeaveAsync(params string[] rooms) => _namespace.Adapter.DelSocketsAsync(_options, rooms);

    /// <summary>Disconnects the selected sockets (of every server); with <paramref name="close"/> their whole connections.</summary>
    public ValueTask DisconnectSocketsAsync(bool close = false) => _namespace.Adapter.DisconnectSocketsAsync(_options, close);

    /// <summary>As <see cref="SocketsJoinAsync"/>, without waiting (the reference's <c>socketsJoin</c>).</summary>
    public void SocketsJoin(params string[] rooms) => Observe(SocketsJoinAsync(rooms), "socketsJoin");

    /// <summary>As <see cref="SocketsLeaveAsync"/>, without waiting.</summary>
    public void SocketsLeave(string room) => Observe(SocketsLeaveAsync(room), "socketsLeave");

    /// <summary>As <see cref="DisconnectSocketsAsync"/>, without waiting.</summary>
    public void DisconnectSockets(bool close = false) => Observe(DisconnectSocketsAsync(close), "disconnectSockets");

    /// <summary>Sends an event to the other servers' <see cref="SocketIONamespace.OnServerSideEmit(string, Func{SocketIOServerEvent, ValueTask})"/> handlers.</summary>
    public ValueTask ServerSideEmitAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        return _namespace.Adapter.ServerSideEmitAsync(ServerSideData(eventName, args));
    }

    /// <summary>
    /// As <see cref="ServerSideEmitAsync"/>, and returns the answer of every other server. Throws
    /// <see cref="SocketIOServerSideEmitTimeoutException"/> (carrying the answers that came) when
    /// <see cref="Timeout"/> (default: the adapter's request timeout) passes first — e.g. a server died.
    /// </summary>
    public Task<IReadOnlyList<JsonElement>> ServerSideEmitWithAckAsync(string eventName, params object?[] args)
    {
        SocketIOSocket.CheckReserved(eventName);
        var adapter = _namespace.Adapter;
        return adapter.ServerSideEmitWithAckAsync(ServerSideData(eventName, args), _options.Timeout ?? adapter.RequestsTimeout);
    }

    private JsonElement ServerSideData(string eventName, object?[] args)
    {
        var all = new object?[args.Length + 1];
        all[0] = eventName;
        args.CopyTo(all, 1);
        return SocketIOJson.ToElement(all, _namespace.Server.JsonOptions);
    }

    private void Observe(ValueTask pending, string what)
    {
        if (pending.IsCompletedSuccessfully) return;
        _ = ObserveAsync(pending, what);
    }

    private async Task ObserveAsync(ValueTask pending, string what)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _namespace.Server.Logger.LogWarning(ex, "Socket.IO {Operation} in {Namespace} failed", what, _namespace.Name);
        }
    }
}
