using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;

namespace Duplex.Server.Transport;

/// <summary>
/// The receiving half of a <see cref="SocketConnection"/>: a <see cref="PipeReader"/> over the socket itself,
/// with no pipe between them. A receive loop reads ahead of the application (so a peer that goes away is
/// noticed while nobody reads), into one contiguous buffer taken from the pool when data arrives and given
/// back once the application has consumed everything: while idle it waits for readability with a
/// zero-byte receive and holds no buffer.
/// <para>
/// The buffer is shared between the loop and the application under <c>lock (this)</c>. The loop appends
/// after <see cref="_end"/>; the application sees [<see cref="_start"/>, <see cref="_end"/>) from a read
/// until its <c>AdvanceTo</c>. Moving the data (compaction, growth) or giving the buffer back happens only
/// while neither the application holds a read (<see cref="_held"/>) nor the loop is receiving into it
/// (<see cref="_receiving"/>).
/// </para>
/// </summary>
internal sealed class SocketInput : PipeReader, IValueTaskSource<ReadResult>
{
    // Fields, grouped by who may touch them. The groups are the reader's locking rules; Debug.Assert
    // checks the lock and the buffer's invariants (AssertStateLocked) where the state changes.

    // ── Set in the constructor, never changed: any thread.
    private readonly SocketConnection _connection;
    private readonly Socket _socket;
    private readonly int _readSize;
    private readonly int _maxBuffered;

    // ── Guarded by lock (this): the receive loop, the application's reads and AdvanceTo/Complete, and
    // cancellation (a token's callback, CancelPendingRead), each on its own thread.
    // 0 <= _start <= _examined <= _end <= _buffer.Length, all 0 while there is no buffer.
    private byte[]? _buffer;
    private int _start;      // first unconsumed byte
    private int _examined;   // bytes before this were seen by the application; a read waits for more
    private int _end;        // end of received data
    private bool _held;      // the application holds a ReadResult (between a read and AdvanceTo); never with _waiting
    private bool _receiving; // the loop is receiving into [_end, buffer end), outside the lock
    private bool _ended;     // nothing more will arrive: end of stream, error or abort
    private Exception? _error; // why it ended, or null for the peer's FIN
    private bool _readerDone;
    private bool _cancelNext;
    private bool _waiting;   // a ReadAsync returned _wait's pending task
    private TaskCompletionSource? _room; // the loop waits for the application to make room (rare)

    // ── Armed by ReadAsync under the lock as it sets _waiting; completed outside the lock by whoever
    // turned _waiting off (the loop, End, CancelPendingRead or the token's callback), so exactly once.
    private ManualResetValueTaskSourceCore<ReadResult> _wait; // continuations run inline: the application reads on the loop's thread
    private CancellationTokenRegistration _waitCancellation;

    public SocketInput(SocketConnection connection, Socket socket, DuplexSocketTransportOptions options)
    {
        _connection = connection;
        _socket = socket;
        _readSize = Math.Max(options.ReadSize, 256);
        _maxBuffered = Math.Max(options.MaxReadBufferSize, _readSize);
    }

    public void Start() => _ = ReceiveLoopAsync();

    private async Task ReceiveLoopAsync()
    {
        Exception? error = null;
        bool waitFirst = true;
        try
        {
            while (true)
            {
                if (waitFirst)
                {
                    lock (this)
                    {
                        if (_readerDone) break;
                        // Everything consumed: the buffer goes back to the pool while we wait.
                        if (_buffer is not null && !_held && _start == _end) ReleaseBufferLocked();
                    }
                    // Readiness without a buffer: a zero-byte receive completes when data (or the end) is there.
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                }
                byte[] buffer;
                int offset, count;
                Task? room = null;
                lock (this)
                {
                    if (_readerDone) break;
                    if (!TryMakeRoomLocked()) room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    buffer = _buffer!;
                    offset = _end;
                    // Never more unconsumed than the limit, whatever size the pool's array has.
                    count = Math.Min(buffer.Length - _end, _maxBuffered - (_end - _start));
                    _receiving = room is null;
                    // A zero-length receive would return 0, which reads as the peer's FIN.
                    Debug.Assert(room is not null || count > 0, "a receive always has room");
                    AssertStateLocked();
                }
                if (room is not null)
                {
                    await room.ConfigureAwait(false);
                    waitFirst = false;
                    continue;
                }
                int n = _socket.Receive(buffer, offset, count, SocketFlags.None, out var status);
                bool signal = false;
                ReadResult result = default;
                lock (this)
                {
                    // _receiving kept the buffer where it was: nobody moved, grew or returned it meanwhile.
                    Debug.Assert(_receiving && ReferenceEquals(buffer, _buffer) && offset == _end, "the buffer stayed put while the loop received into it");
                    Debug.Assert(n >= 0 && n <= count);
                    _receiving = false;
                    if (status == SocketError.WouldBlock)
                    {
                        waitFirst = true;
                        continue;
                    }
                    if (status != SocketError.Success)
                    {
                        error = Translate(status);
                        break;
                    }
                    if (n == 0) break; // the peer finished sending
                    _end += n;
                    // A full read suggests more is waiting: read again before waiting for readiness.
                    waitFirst = n < count;
                    if (_waiting && TryTakeLocked(out result))
                    {
                        _waiting = false;
                        signal = true;
                    }
                    AssertStateLocked();
                }
                if (signal) Wake(result);
            }
        }
        catch (SocketException ex)
        {
            error = Translate(ex.SocketErrorCode, ex);
        }
        catch (ObjectDisposedException)
        {
            error = _connection.AbortReason ?? new ConnectionAbortedException("The connection was closed.");
        }
        catch (Exception ex)
        {
            error = ex;
        }
        End(error);
    }

    private Exception Translate(SocketError status, SocketException? ex = null)
    {
        if (_connection.AbortReason is { } reason) return reason;
        ex ??= new SocketException((int)status);
        return status switch
        {
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
                => new ConnectionResetException(ex.Message, ex),
            SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument
                => new ConnectionAbortedException("The connection was closed.", ex),
            _ => new IOException(ex.Message, ex),
        };
    }

    /// <summary>The receive loop is over: a waiting read gets the end (or the error), and the connection learns it closed.</summary>
    private void End(Exception? error)
    {
        bool signal = false;
        bool fail = false;
        ReadResult result = default;
        lock (this)
        {
            _ended = true;
            _error = error;
            _receiving = false;
            _room?.TrySetResult();
            if (_waiting)
            {
                _waiting = false;
                signal = true;
                fail = !TryTakeLocked(out result);
                // TryTakeLocked passes on a clean end (IsCompleted), so only an error is left to throw.
                Debug.Assert(!fail || error is not null, "a read that gets nothing at the end gets the error");
            }
            if (_readerDone || (!_held && _start == _end)) ReleaseBufferLocked();
            AssertStateLocked();
        }
        if (signal)
        {
            _waitCancellation.Dispose();
            if (fail) _wait.SetException(error!);
            else _wait.SetResult(result);
        }
        _connection.OnReceiveEnded();
    }

    /// <summary>Makes sure there is space after <see cref="_end"/>; false when only the application can make it.</summary>
    private bool TryMakeRoomLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        // Only the loop receives, and it is here: the data may move.
        Debug.Assert(!_receiving, "room is made between receives");
        AssertStateLocked();
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(_readSize);
            _start = _examined = _end = 0;
            return true;
        }
        int free = _buffer.Length - _end;
        int unconsumed = _end - _start;
        if (unconsumed >= _maxBuffered) return false; // the application must consume first
        if (free >= _readSize / 4 || (free > 0 && _held)) return true;
        if (_held) return false;
        // From here the data moves: the application holds no read whose positions would go stale.
        if (_start > 0 && _buffer.Length - unconsumed >= _readSize / 4)
        {
            // Slide what is left to the front.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, unconsumed);
            _examined -= _start;
            _end = unconsumed;
            _start = 0;
            return true;
        }
        if (free > 0) return true;
        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(_buffer.Length * 2, unconsumed + _readSize), _maxBuffered + _readSize));
        Buffer.BlockCopy(_buffer, _start, larger, 0, unconsumed);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
        _examined -= _start;
        _end = unconsumed;
        _start = 0;
        return true;
    }

    private void ReleaseBufferLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        if (_buffer is null || _receiving) return;
        Debug.Assert(!_held, "the buffer a read handed out is not given back under the application");
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _start = _examined = _end = 0;
    }

    // default, not ReadOnlySequence.Empty: its positions carry no array, which AdvanceTo recognises.
    private ReadOnlySequence<byte> Unconsumed() =>
        _buffer is null ? default : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    /// <summary>A read's result, when one is due: new bytes, a cancellation, or the end.</summary>
    private bool TryTakeLocked(out ReadResult result)
    {
        Debug.Assert(Monitor.IsEntered(this));
        // Callers take a result for a new read or for the one waiting: either way none is held.
        Debug.Assert(!_held, "one read at a time: the last one was advanced");
        if (_cancelNext)
        {
            _cancelNext = false;
            _held = true;
            result = new ReadResult(Unconsumed(), isCanceled: true, isCompleted: false);
            return true;
        }
        if (_end > _examined || (_ended && _error is null))
        {
            _held = true;
            result = new ReadResult(Unconsumed(), isCanceled: false, isCompleted: _ended && _error is null);
            return true;
        }
        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        lock (this)
        {
            ThrowIfUnusable();
            if (TryTakeLocked(out var result)) return new ValueTask<ReadResult>(result);
            Debug.Assert(!_ended || _error is not null, "a clean end is a completed result, not an error");
            if (_ended) return ValueTask.FromException<ReadResult>(_error!);
            _wait.Reset();
            _waiting = true;
            if (cancellationToken.CanBeCanceled)
                _waitCancellation = cancellationToken.UnsafeRegister(static (state, token) => ((SocketInput)state!).CancelWait(token), this);
            return new ValueTask<ReadResult>(this, _wait.Version);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (this)
        {
            ThrowIfUnusable();
            if (TryTakeLocked(out result)) return true;
            Debug.Assert(!_ended || _error is not null, "a clean end is a completed result, not an error");
            if (_ended) throw _error!;
            return false;
        }
    }

    private void ThrowIfUnusable()
    {
        Debug.Assert(Monitor.IsEntered(this));
        if (_readerDone) throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
        if (_held || _waiting) throw new InvalidOperationException("A read is already in progress: call AdvanceTo first.");
    }

    private void CancelWait(CancellationToken token)
    {
        lock (this)
        {
            if (!_waiting) return;
            _waiting = false;
        }
        _wait.SetException(new OperationCanceledException(token));
    }

    private void Wake(ReadResult result)
    {
        _waitCancellation.Dispose();
        _waitCancellation = default;
        _wait.SetResult(result);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        TaskCompletionSource? room;
        lock (this)
        {
            if (!_held) throw new InvalidOperationException("No read to advance: call ReadAsync first.");
            int consumedAt = Index(consumed);
            int examinedAt = Math.Max(Index(examined), consumedAt);
            if (consumedAt < _start || examinedAt > _end) throw new ArgumentOutOfRangeException(nameof(consumed), "The position is outside the buffer that was read.");
            _held = false;
            _start = consumedAt;
            _examined = examinedAt;
            // Everything consumed: the buffer goes back to the pool now (the loop takes another when data
            // comes), so a connection that goes idle after this read holds none.
            if (_start == _end) ReleaseBufferLocked();
            room = _room;
            _room = null;
            AssertStateLocked();
        }
        room?.TrySetResult();
    }

    private int Index(SequencePosition position)
    {
        Debug.Assert(Monitor.IsEntered(this));
        var target = position.GetObject();
        if (target is null or byte[] { Length: 0 }) return _start; // an empty sequence
        if (!ReferenceEquals(target, _buffer)) throw new InvalidOperationException("The position is not from this reader's last read.");
        return position.GetInteger();
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (this)
        {
            if (!_waiting)
            {
                _cancelNext = true;
                return;
            }
            _cancelNext = true;
            bool taken = TryTakeLocked(out result);
            Debug.Assert(taken, "a pending cancellation is always a result");
            _waiting = false;
            AssertStateLocked();
        }
        Wake(result);
    }

    public override void Complete(Exception? exception = null)
    {
        TaskCompletionSource? room;
        lock (this)
        {
            if (_readerDone) return;
            _readerDone = true;
            _held = false;
            ReleaseBufferLocked();
            room = _room;
            _room = null;
            AssertStateLocked();
        }
        room?.TrySetResult();
    }

    /// <summary>The invariants of the fields under the lock (see their comments), checked in Debug builds.</summary>
    [Conditional("DEBUG")]
    private void AssertStateLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        Debug.Assert(!(_held && _waiting), "a read is either held or waiting, not both");
        if (_buffer is null) Debug.Assert(_start == 0 && _examined == 0 && _end == 0 && !_receiving, "no buffer, no data");
        else Debug.Assert(0 <= _start && _start <= _examined && _examined <= _end && _end <= _buffer.Length, "start <= examined <= end within the buffer");
        Debug.Assert(_end - _start <= _maxBuffered, "never more unconsumed than MaxReadBufferSize");
        Debug.Assert(!(_ended && _receiving), "nothing is received after the end");
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _wait.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);
}
