namespace Duplex.SocketIO;

/// <summary>
/// The event handlers of one socket, server's or client's (<c>On</c>, <c>OnAny</c>, <c>Off</c>), and how
/// an incoming event reaches them. Both sides promise the same things, so they are kept here once:
/// <list type="bullet">
/// <item>catch-all handlers run first, then the event's own, each list in the order it was added (as
/// Node's EventEmitter and the npm socket's <c>onAny</c> do);</item>
/// <item>a dispatch works on the handlers as they were when it began: one added or removed meanwhile
/// (even by a handler of that event) counts from the next event on, and readers never take the lock;</item>
/// <item>a handler runs on the reading task up to its first await, so handlers start in arrival order,
/// and the rest runs on: one that waits for the peer's acknowledgement must not block the reading of it;</item>
/// <item>a handler's exception, thrown or from its task, goes to the failure callback (the owner's log)
/// and never into the reading loop, nor stops the handlers after it.</item>
/// </list>
/// </summary>
internal sealed class EventHandlerRegistry<TEvent>
{
    // One immutable snapshot, replaced whole under the lock, so a dispatch sees the named and the
    // catch-all handlers of the same moment.
    private sealed class Snapshot(Dictionary<string, Func<TEvent, ValueTask>[]> named, Func<TEvent, ValueTask>[] any)
    {
        public readonly Dictionary<string, Func<TEvent, ValueTask>[]> Named = named;
        public readonly Func<TEvent, ValueTask>[] Any = any;
    }

    // Most sockets handle few events and many none: they all start on this one empty snapshot, so a
    // registry costs its own object until a handler is added. Writers lock the registry itself.
    private static readonly Snapshot Empty = new(new Dictionary<string, Func<TEvent, ValueTask>[]>(StringComparer.Ordinal), []);

    private readonly Action<Exception, string> _onFailure;
    private Snapshot _handlers = Empty;

    /// <param name="onFailure">Told of a handler's exception and the name of the event it was handling.</param>
    public EventHandlerRegistry(Action<Exception, string> onFailure) => _onFailure = onFailure;

    /// <summary>Adds <paramref name="handler"/> for <paramref name="eventName"/>, after those it has already.</summary>
    public void On(string eventName, Func<TEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(eventName);
        ArgumentNullException.ThrowIfNull(handler);
        lock (this)
        {
            var current = Volatile.Read(ref _handlers);
            var named = new Dictionary<string, Func<TEvent, ValueTask>[]>(current.Named, StringComparer.Ordinal);
            named[eventName] = named.TryGetValue(eventName, out var existing) ? [.. existing, handler] : [handler];
            Volatile.Write(ref _handlers, new Snapshot(named, current.Any));
        }
    }

    /// <summary>Adds a catch-all handler, called for every event before the event's own handlers.</summary>
    public void OnAny(Func<TEvent, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (this)
        {
            var current = Volatile.Read(ref _handlers);
            Volatile.Write(ref _handlers, new Snapshot(current.Named, [.. current.Any, handler]));
        }
    }

    /// <summary>Removes every handler of <paramref name="eventName"/> (catch-all handlers stay).</summary>
    public void Off(string eventName)
    {
        ArgumentNullException.ThrowIfNull(eventName);
        lock (this)
        {
            var current = Volatile.Read(ref _handlers);
            if (!current.Named.ContainsKey(eventName)) return;
            var named = new Dictionary<string, Func<TEvent, ValueTask>[]>(current.Named, StringComparer.Ordinal);
            named.Remove(eventName);
            Volatile.Write(ref _handlers, new Snapshot(named, current.Any));
        }
    }

    /// <summary>Hands <paramref name="e"/>, the event <paramref name="eventName"/>, to the catch-all handlers, then to its own.</summary>
    public void Dispatch(string eventName, TEvent e)
    {
        var handlers = Volatile.Read(ref _handlers);
        foreach (var handler in handlers.Any) EventHandlerRegistry.Run(handler, e, eventName, _onFailure);
        if (handlers.Named.TryGetValue(eventName, out var own))
            foreach (var handler in own) EventHandlerRegistry.Run(handler, e, eventName, _onFailure);
    }
}

/// <summary>How a socket runs each of its handlers, events' and its other callbacks' alike.</summary>
internal static class EventHandlerRegistry
{
    /// <summary>
    /// Runs one handler the way <see cref="EventHandlerRegistry{TEvent}.Dispatch"/> does: synchronously up to
    /// its first await, the rest observed, any exception given to <paramref name="onFailure"/> with
    /// <paramref name="name"/>. Also for a socket's other callbacks (the server's "disconnecting", "disconnect").
    /// </summary>
    public static void Run<TArg>(Func<TArg, ValueTask> handler, TArg arg, string name, Action<Exception, string> onFailure)
    {
        try
        {
            var pending = handler(arg);
            if (pending.IsCompletedSuccessfully) return;
            _ = ObserveAsync(pending, name, onFailure);
        }
        catch (Exception ex)
        {
            Report(onFailure, ex, name);
        }
    }

    private static async Task ObserveAsync(ValueTask pending, string name, Action<Exception, string> onFailure)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Report(onFailure, ex, name);
        }
    }

    // A logger that throws must not turn a handler's failure into the reading loop's.
    private static void Report(Action<Exception, string> onFailure, Exception ex, string name)
    {
        try
        {
            onFailure(ex, name);
        }
        catch
        {
        }
    }
}
