namespace Duplex.SocketIO.Client;

/// <summary>
/// The acknowledgements one namespace waits for, by packet id. An ack whose emit is still in the
/// send buffer survives a disconnect (its packet goes out on reconnection); one already sent cannot
/// be answered by a new session, so a disconnect fails it. Thread-safe.
/// </summary>
internal sealed class AckRegistry
{
    private sealed class Entry
    {
        public readonly TaskCompletionSource<SocketIOArgs> Answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Sent;
    }

    private readonly Dictionary<long, Entry> _entries = new();
    private long _nextId;

    public int Count
    {
        get { lock (_entries) return _entries.Count; }
    }

    /// <summary>Takes the next packet id and starts waiting for its answer.</summary>
    public (long Id, Task<SocketIOArgs> Answer) Register()
    {
        lock (_entries)
        {
            long id = _nextId++;
            var entry = new Entry();
            _entries[id] = entry;
            return (id, entry.Answer.Task);
        }
    }

    /// <summary>The packet of <paramref name="id"/> went out on the current session.</summary>
    public void MarkSent(long id)
    {
        lock (_entries)
            if (_entries.TryGetValue(id, out var entry)) entry.Sent = true;
    }

    /// <summary>Delivers an answer; false when nobody waits for <paramref name="id"/> (late, unknown or twice).</summary>
    public bool Complete(long id, SocketIOArgs args)
    {
        Entry? entry;
        lock (_entries)
            if (!_entries.Remove(id, out entry)) return false;
        return entry.Answer.TrySetResult(args);
    }

    /// <summary>Stops waiting for <paramref name="id"/> (its deadline passed or its caller gave up).</summary>
    public bool Forget(long id)
    {
        lock (_entries) return _entries.Remove(id);
    }

    /// <summary>Fails the acks whose packets were sent (a disconnect); those still buffered keep waiting.</summary>
    public int FailSent(Exception error) => Fail(error, sentOnly: true);

    /// <summary>Fails every ack (the namespace is done for good).</summary>
    public int FailAll(Exception error) => Fail(error, sentOnly: false);

    private int Fail(Exception error, bool sentOnly)
    {
        List<Entry> failed = new();
        lock (_entries)
        {
            foreach (var (id, entry) in _entries.ToArray())
            {
                if (sentOnly && !entry.Sent) continue;
                _entries.Remove(id);
                failed.Add(entry);
            }
        }
        foreach (var entry in failed) entry.Answer.TrySetException(error);
        return failed.Count;
    }
}
