using Microsoft.Extensions.Logging;

namespace Duplex.SocketIO.Client;

/// <summary>
/// At-least-once emits (<see cref="SocketIOClientOptions.Retries"/>, npm's <c>retries</c>): every emit of
/// the namespace waits its turn here and goes out with an acknowledgement id, one at a time and in order.
/// An attempt that times out (<see cref="SocketIOClientOptions.AckTimeout"/> or the emitter's own) or
/// ends with the connection is sent again, each time under a new packet id, until it is acknowledged or
/// has failed <c>retries + 1</c> times; then its caller gets the last error and the next emit goes out.
/// The head is sent again on every (re)connection, so the server may see an emit more than once.
/// </summary>
/// <remarks>Thread-safe: one lock guards the queue; attempts are started outside it.</remarks>
internal sealed class RetryQueue
{
    private sealed class Item(string eventName, object?[] args, TimeSpan? timeout)
    {
        public readonly string EventName = eventName;
        public readonly object?[] Args = args;
        public readonly TimeSpan? Timeout = timeout;
        public readonly TaskCompletionSource<SocketIOArgs> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Tries;
        public int Attempt; // which attempt is current: the answers of earlier ones are ignored, except a success
        public bool Pending;
    }

    private readonly SocketIOClientSocket _socket;
    private readonly int _retries;
    private readonly int _capacity;
    private readonly ILogger? _logger;
    private readonly LinkedList<Item> _items = new();

    public RetryQueue(SocketIOClientSocket socket, int retries, int capacity, ILogger? logger)
    {
        _socket = socket;
        _retries = retries;
        _capacity = capacity;
        _logger = logger;
    }

    public int Count
    {
        get { lock (_items) return _items.Count; }
    }

    /// <summary>Queues an emit; the task completes with its acknowledgement or its last failure.</summary>
    public async Task<SocketIOArgs> EnqueueAsync(string eventName, object?[] args, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var item = new Item(eventName, args, timeout);
        lock (_items)
        {
            if (_items.Count >= _capacity)
                throw new InvalidOperationException($"the retry queue of namespace {_socket.Namespace} is full ({_capacity} emits wait for acknowledgement)");
            _items.AddLast(item);
        }
        Drain(force: false);
        if (!cancellationToken.CanBeCanceled) return await item.Result.Task.ConfigureAwait(false);
        try
        {
            return await item.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller gave up: the emit leaves the queue (an attempt in flight is not recalled).
            bool wasHead;
            lock (_items)
            {
                wasHead = _items.First?.Value == item;
                _items.Remove(item);
            }
            if (wasHead) Drain(force: false);
            throw;
        }
    }

    /// <summary>
    /// Sends the head if it is not in flight (or, with <paramref name="force"/>, on a new connection,
    /// even if it is). Does nothing while the namespace is not connected.
    /// </summary>
    public void Drain(bool force)
    {
        Item head;
        int attempt;
        lock (_items)
        {
            if (!_socket.IsConnected || _items.First is not { } first) return;
            head = first.Value;
            if (head.Pending && !force) return;
            head.Pending = true;
            head.Tries++;
            attempt = ++head.Attempt;
        }
        _ = SendAsync(head, attempt);
    }

    private async Task SendAsync(Item item, int attempt)
    {
        SocketIOArgs answer;
        try
        {
            answer = await _socket.EmitWithAckOnceAsync(item.EventName, item.Args, item.Timeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            OnFailed(item, attempt, ex);
            return;
        }
        lock (_items)
        {
            // An answer to any attempt acknowledges the emit; one that comes after it left the queue is late.
            if (!_items.Remove(item)) return;
        }
        item.Result.TrySetResult(answer);
        Drain(force: false);
    }

    private void OnFailed(Item item, int attempt, Exception error)
    {
        bool gaveUp;
        lock (_items)
        {
            if (_items.First?.Value != item || item.Attempt != attempt) return; // superseded or gone
            gaveUp = item.Tries > _retries;
            if (gaveUp) _items.RemoveFirst();
            else item.Pending = false;
        }
        if (gaveUp)
        {
            _logger?.LogDebug(error, "Socket.IO client: \"{Event}\" on {Namespace} failed {Tries} times, given up", item.EventName, _socket.Namespace, item.Tries);
            item.Result.TrySetException(error);
        }
        Drain(force: false);
    }

    /// <summary>Fails every queued emit (the namespace is done, or the user left it).</summary>
    public void FailAll(Exception error)
    {
        Item[] items;
        lock (_items)
        {
            items = _items.ToArray();
            _items.Clear();
        }
        foreach (var item in items) item.Result.TrySetException(error);
    }
}
