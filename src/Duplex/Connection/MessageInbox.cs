using System.Threading.Tasks.Sources;

namespace Duplex;

/// <summary>
/// The messages a connection's read loop (the one writer) has handed to the application (the one
/// reader) and the application has not taken yet, bounded. What <c>Channel&lt;T&gt;</c> would do here,
/// at about a quarter of its memory per connection (an idle connection holds one of these): no
/// queue array until the first message, one reusable wait for the reader, and a wait for room made
/// only when the application falls behind.
/// <para>
/// A waiting reader is handed the message directly (the ring stays untouched) and its continuation
/// runs on the writer's thread (no hop to the thread pool), as with <c>AllowSynchronousContinuations</c>.
/// </para>
/// </summary>
internal sealed class MessageInbox(int capacity) : IValueTaskSource<bool>
{
    private readonly int _capacity = Math.Max(1, capacity);
    private WebSocketMessage[]? _items;     // a ring, grown by doubling up to the capacity
    private int _head;
    private int _count;
    private bool _completed;

    private ManualResetValueTaskSourceCore<bool> _readerWait; // continuations run inline
    private bool _readerWaiting;                             // under the lock
    private WebSocketMessage _taken;                         // the message the reader holds (ReadAsync)
    private bool _holding;
    private CancellationTokenRegistration _readerCancel;
    private TaskCompletionSource? _room;                      // the writer waits for room (rare)

    private object Gate => this;

    /// <summary>Adds a message; false when full or completed.</summary>
    public bool TryWrite(in WebSocketMessage message)
    {
        bool wake;
        lock (Gate)
        {
            if (_completed || _count == _capacity) return false;
            wake = _readerWaiting;
            _readerWaiting = false;
            if (wake)
            {
                // The reader waits, so the ring is empty: the message goes straight to it.
                _taken = message;
                _holding = true;
            }
            else
            {
                var items = _items;
                if (items is null || _count == items.Length) items = Grow();
                items[(_head + _count) % items.Length] = message;
                _count++;
            }
        }
        if (wake) _readerWait.SetResult(true);
        return true;
    }

    private WebSocketMessage[] Grow()
    {
        var old = _items;
        var grown = new WebSocketMessage[Math.Min(_capacity, old is null ? 4 : old.Length * 2)];
        for (int i = 0; i < _count; i++) grown[i] = old![(_head + i) % old.Length];
        _head = 0;
        return _items = grown;
    }

    public bool TryRead(out WebSocketMessage message)
    {
        // Empty: no lock. Only this reader takes messages out, so a stale count can only be low, and
        // ReadAsync looks again under the lock.
        if (Volatile.Read(ref _count) == 0)
        {
            message = default;
            return false;
        }
        TaskCompletionSource? room = null;
        lock (Gate)
        {
            if (_count == 0)
            {
                message = default;
                return false;
            }
            message = Dequeue(out room);
        }
        room?.TrySetResult();
        return true;
    }

    /// <summary>Under the lock, with a message in the ring: the oldest, and the writer's wait for room to end.</summary>
    private WebSocketMessage Dequeue(out TaskCompletionSource? room)
    {
        var items = _items!;
        var message = items[_head];
        items[_head] = default;
        _head = (_head + 1) % items.Length;
        _count--;
        room = _room;
        _room = null;
        return message;
    }

    /// <summary>
    /// Takes the next message into <see cref="Taken"/> (true), or finds the inbox completed and empty
    /// (false). One reader at a time; what it took is its own until <see cref="TryReleaseTaken"/>.
    /// </summary>
    public ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        if (TryRead(out var message))
        {
            _taken = message;
            _holding = true;
            return new ValueTask<bool>(true);
        }
        lock (Gate)
        {
            if (_count > 0)
            {
                // A write came in between: take it under the lock.
                _taken = Dequeue(out var room);
                _holding = true;
                room?.TrySetResult();
                return new ValueTask<bool>(true);
            }
            if (_completed) return new ValueTask<bool>(false);
            if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<bool>(cancellationToken);
            if (_readerWaiting) throw new InvalidOperationException("Messages are read by one reader at a time.");
            _readerWait.Reset();
            _readerWaiting = true;
        }
        if (cancellationToken.CanBeCanceled)
            _readerCancel = cancellationToken.UnsafeRegister(static (state, token) => ((MessageInbox)state!).CancelRead(token), this);
        return new ValueTask<bool>(this, _readerWait.Version);
    }

    /// <summary>The message the last successful <see cref="ReadAsync"/> took; default once released.</summary>
    public WebSocketMessage Taken => _taken;

    /// <summary>Gives up the taken message (false when none is held), for the caller to return its buffer.</summary>
    public bool TryReleaseTaken(out WebSocketMessage message)
    {
        message = _taken;
        if (!_holding) return false;
        _holding = false;
        _taken = default;
        return true;
    }

    private void CancelRead(CancellationToken token)
    {
        lock (Gate)
        {
            if (!_readerWaiting) return;
            _readerWaiting = false;
        }
        _readerWait.SetException(new OperationCanceledException(token));
    }

    /// <summary>Waits until there is room (true) or the inbox is completed (false).</summary>
    public async ValueTask<bool> WaitForRoomAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (Gate)
        {
            if (_completed) return false;
            if (_count < _capacity) return true;
            wait = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>No more messages: a waiting reader gets false once the rest are read.</summary>
    public void Complete()
    {
        bool wake;
        TaskCompletionSource? room;
        lock (Gate)
        {
            if (_completed) return;
            _completed = true;
            wake = _readerWaiting; // then the ring is empty: the reader is done
            _readerWaiting = false;
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
        if (wake) _readerWait.SetResult(false);
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _readerCancel.Unregister();
        _readerCancel = default;
        return _readerWait.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _readerWait.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _readerWait.OnCompleted(continuation, state, token, flags);
}
