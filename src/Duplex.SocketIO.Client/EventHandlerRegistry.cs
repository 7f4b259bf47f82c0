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
    // catch-all handlers of the same moment. AnyKeys[i] is the delegate the application gave for Any[i]
    // (the overloads taking an Action wrap it), so OffAny and ListenersAny speak of the application's own.
    internal sealed class Snapshot(Dictionary<string, Func<TEvent, ValueTask>[]> named, Func<TEvent, ValueTask>[] any, Delegate[] anyKeys)
    {
        public readonly Dictionary<string, Func<TEvent, ValueTask>[]> Named = named;
        public readonly Func<TEvent, ValueTask>[] Any = any;
        public readonly Delegate[] AnyKeys = anyKeys;
    }

    // Most sockets handle few events and many none: they all start on this one empty snapshot, so a
    // registry costs its own object until a handler is added. Writers lock the registry itself.
    private static readonly Snapshot Empty = new(new Dictionary<string, Func<TEvent, ValueTask>[]>(StringComparer.Ordinal), [], []);

    private readonly Action<Exception, string> _onFailure;
    private Snapshot _handlers = Empty;
    private Action<string, SocketIOArgs>[] _outgoing = [];

    /// <param name="onFailure">Told of a handler's exception and the name of the event it was handling.</param>
    public EventHandlerRegistry(Action<Exception, string> onFailure) => _onFailure = onFailure;

    /// <summary>The handlers of this moment, for a dispatch in steps (<see cref="DispatchAny"/>, then <see cref="DispatchNamed"/>).</summary>
    public Snapshot Current => Volatile.Read(ref _handlers);

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
            Volatile.Write(ref _handlers, new Snapshot(named, current.Any, current.AnyKeys));
        }
    }

    /// <summary>
    /// Adds a catch-all handler, called for every event before the event's own handlers: after those it
    /// has already, or before them with <paramref name="prepend"/>. <paramref name="key"/> is the delegate
    /// the application gave (the one <see cref="OffAny"/> removes); by default the handler itself.
    /// </summary>
    public void OnAny(Func<TEvent, ValueTask> handler, Delegate? key = null, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(handler);
        key ??= handler;
        lock (this)
        {
            var current = Volatile.Read(ref _handlers);
            Volatile.Write(ref _handlers, prepend
                ? new Snapshot(current.Named, [handler, .. current.Any], [key, .. current.AnyKeys])
                : new Snapshot(current.Named, [.. current.Any, handler], [.. current.AnyKeys, key]));
        }
    }

    /// <summary>
    /// Removes the first catch-all handler given as <paramref name="key"/> (as Node's <c>offAny(listener)</c>,
    /// one at a time), or every catch-all handler when it is null. Returns whether one was removed.
    /// </summary>
    public bool OffAny(Delegate? key)
    {
        lock (this)
        {
            var current = Volatile.Read(ref _handlers);
            if (current.Any.Length == 0) return false;
            if (key is null)
            {
                Volatile.Write(ref _handlers, new Snapshot(current.Named, [], []));
                return true;
            }
            int index = Array.FindIndex(current.AnyKeys, k => k.Equals(key));
            if (index < 0) return false;
            Volatile.Write(ref _handlers, new Snapshot(current.Named, [.. current.Any[..index], .. current.Any[(index + 1)..]],
                [.. current.AnyKeys[..index], .. current.AnyKeys[(index + 1)..]]));
            return true;
        }
    }

    /// <summary>The catch-all handlers, in the order they run, as the application gave them.</summary>
    public IReadOnlyList<Delegate> ListenersAny() => Current.AnyKeys;

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
            Volatile.Write(ref _handlers, new Snapshot(named, current.Any, current.AnyKeys));
        }
    }

    /// <summary>Hands <paramref name="e"/>, the event <paramref name="eventName"/>, to the catch-all handlers, then to its own.</summary>
    public void Dispatch(string eventName, TEvent e)
    {
        var handlers = Current;
        DispatchAny(handlers, eventName, e);
        DispatchNamed(handlers, eventName, e);
    }

    /// <summary>The first step of a dispatch: the catch-all handlers of <paramref name="handlers"/>.</summary>
    public void DispatchAny(Snapshot handlers, string eventName, TEvent e)
    {
        foreach (var handler in handlers.Any) EventHandlerRegistry.Run(handler, e, eventName, _onFailure);
    }

    /// <summary>The second step of a dispatch: the event's own handlers in <paramref name="handlers"/>.</summary>
    public void DispatchNamed(Snapshot handlers, string eventName, TEvent e)
    {
        if (handlers.Named.TryGetValue(eventName, out var own))
            foreach (var handler in own) EventHandlerRegistry.Run(handler, e, eventName, _onFailure);
    }

    // ───────────────────────────── outgoing ─────────────────────────────

    /// <summary>True when at least one outgoing listener is registered (so an emit need not decode itself for none).</summary>
    public bool HasOutgoing => Volatile.Read(ref _outgoing).Length > 0;

    /// <summary>Adds a listener for every event this socket sends: after the others, or first with <paramref name="prepend"/>.</summary>
    public void OnAnyOutgoing(Action<string, SocketIOArgs> listener, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (this)
        {
            var current = Volatile.Read(ref _outgoing);
            Volatile.Write(ref _outgoing, prepend ? [listener, .. current] : [.. current, listener]);
        }
    }

    /// <summary>Removes the first outgoing listener equal to <paramref name="listener"/>, or all of them when it is null.</summary>
    public bool OffAnyOutgoing(Action<string, SocketIOArgs>? listener)
    {
        lock (this)
        {
            var current = Volatile.Read(ref _outgoing);
            if (current.Length == 0) return false;
            if (listener is null)
            {
                Volatile.Write(ref _outgoing, []);
                return true;
            }
            int index = Array.FindIndex(current, l => l.Equals(listener));
            if (index < 0) return false;
            Volatile.Write(ref _outgoing, [.. current[..index], .. current[(index + 1)..]]);
            return true;
        }
    }

    /// <summary>The outgoing listeners, in the order they run.</summary>
    public IReadOnlyList<Action<string, SocketIOArgs>> ListenersAnyOutgoing() => Volatile.Read(ref _outgoing);

    /// <summary>
    /// Tells every outgoing listener (as they are now) of the event <paramref name="eventName"/> with
    /// <paramref name="args"/>, on the caller's thread; a listener's exception goes to the failure callback.
    /// </summary>
    public void NotifyOutgoing(string eventName, SocketIOArgs args)
    {
        foreach (var listener in Volatile.Read(ref _outgoing))
        {
            try
            {
                listener(eventName, args);
            }
            catch (Exception ex)
            {
                EventHandlerRegistry.Report(_onFailure, ex, eventName);
            }
        }
    }

    /// <summary>
    /// As <see cref="NotifyOutgoing(string, SocketIOArgs)"/> for an event packet just encoded (the text part,
    /// then its attachments), decoded only when there is a listener to tell.
    /// </summary>
    public void NotifyOutgoing(EngineIO.EnginePacket[] encoded, System.Text.Json.JsonSerializerOptions options)
    {
        if (!HasOutgoing || encoded.Length == 0 || encoded[0].Text is not { } text || !SocketIOPacketParser.TryParse(text, out var packet)) return;
        for (int i = 1; i < encoded.Length; i++)
            if (encoded[i].Binary is { } bytes) packet.Attachments.Add(bytes);
        if (SocketIOArgs.EventName(packet) is { } name) NotifyOutgoing(name, SocketIOArgs.From(packet.Data, 1, packet.Attachments, options));
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
    internal static void Report(Action<Exception, string> onFailure, Exception ex, string name)
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
