using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Duplex.Server.Transport;

/// <summary>
/// The sending half of a <see cref="SocketConnection"/>: a <see cref="PipeWriter"/> over the socket itself.
/// <c>FlushAsync</c> sends on the caller's thread with a non-blocking <c>send</c> (one system call per
/// flush, several buffers in one <c>sendmsg</c>); only when the kernel's buffer is full does a send loop
/// take over, and the flush waits once more than <see cref="DuplexSocketTransportOptions.MaxWriteBufferSize"/>
/// is waiting, as a pipe's would. Buffers come from the pool and go back as soon as they are sent, so an
/// idle connection holds none.
/// <para>
/// The writer appends to <see cref="_tail"/>; the sender (the flushing caller, or the send loop) takes the
/// committed bytes from <see cref="_head"/> on. Both share the segment list under <c>lock (this)</c>; only
/// one of them sends at a time (<see cref="_sending"/>), and only the writer gives back the tail segment.
/// </para>
/// </summary>
internal sealed class SocketOutput : PipeWriter, IValueTaskSource<FlushResult>, IReferenceWriter
{
    private sealed class Segment
    {
        public byte[] Array = [];
        public int Sent;     // bytes before this are on the wire: the sender's, under the output's lock
        // Bytes before this were written: the writer's, on the tail only (no lock); the sender reads it under
        // the lock but takes no more than _unsent, which counts only what a flush committed before it.
        public int Written;
        public bool Borrowed; // the array is someone else's (WriteByReference): never written into, never pooled
        public Segment? Next;

        // Spare segment objects per thread, so a flush cycle allocates nothing; a broadcast to thousands
        // takes one per recipient before the batch's flushes give them back.
        private const int MaxSpare = 256;

        [ThreadStatic] private static Segment? t_spare;
        [ThreadStatic] private static int t_spareCount;

        private static Segment Take()
        {
            var segment = t_spare;
            if (segment is not null)
            {
                t_spare = segment.Next;
                t_spareCount--;
                segment.Next = null;
            }
            else segment = new Segment();
            return segment;
        }

        public static Segment Rent(int size)
        {
            var segment = Take();
            segment.Array = ArrayPool<byte>.Shared.Rent(size);
            return segment;
        }

        public static Segment Borrow(ArraySegment<byte> bytes)
        {
            var segment = Take();
            segment.Array = bytes.Array!;
            segment.Sent = bytes.Offset;
            segment.Written = bytes.Offset + bytes.Count;
            segment.Borrowed = true;
            return segment;
        }

        /// <summary>Gives the array back to the pool and keeps the object for reuse; returns the next segment.</summary>
        public static Segment? Return(Segment segment)
        {
            var next = segment.Next;
            if (!segment.Borrowed) ArrayPool<byte>.Shared.Return(segment.Array);
            segment.Array = [];
            segment.Borrowed = false;
            segment.Sent = segment.Written = 0;
            segment.Next = null;
            if (t_spareCount < MaxSpare)
            {
                segment.Next = t_spare;
                t_spare = segment;
                t_spareCount++;
            }
            return next;
        }
    }

    // Small: a segment outlives its flush only while the kernel's buffer is full, and then one is held per
    // backed-up connection. A broadcast to 10,000 slow receivers held thousands at once, past what the
    // shared pool keeps, so each 34-byte delivery cost a fresh 4 KiB array (about 1 KB allocated per
    // delivery, and the GCs to match). 1 KiB still takes a pipelined batch of 16 small echoes in one
    // segment (512 B did not, and cost echo 100 x 16 about 10 %). Sizes double within a batch, up to 64 KiB.
    private const int MinSegmentSize = 1024;
    private const int MaxGather = 16;

    // Fields, grouped by who may touch them. The groups are the writer's locking rules; Debug.Assert
    // checks the lock and the queue's invariants where the state changes.

    [ThreadStatic] private static List<ArraySegment<byte>>? t_gather; // a sender's, between gathering and sending
    // Marks a released connection's output. Only ever compared with null, never thrown, so one serves all
    // (a new one per closed connection was a formatted message and an exception object each).
    private static readonly Exception s_released = new ObjectDisposedException(nameof(SocketConnection));

    // ── Set in the constructor, never changed: any thread.
    private readonly Socket _socket;
    private readonly int _pauseAt;

    // ── The writer only (GetSpan/GetMemory/Advance/WriteByReference, one caller at a time, as for any
    // PipeWriter); FlushAsync and Complete move it into _unsent under the lock.
    private long _unflushed;    // written since the last flush

    // ── Guarded by lock (this): the writer, the sender (the flushing caller, or the send loop), the
    // token's callback, DrainAsync and Release. Two are also read by the writer without the lock:
    // _tail, which changes only on the writer's own thread while it writes (Append, FlushAsync's release;
    // the sender and Release let the segments go only once the writer is done), and _writerDone.
    private Segment? _head;     // null exactly when _tail is
    private Segment? _tail;
    private long _unsent;       // flushed, not yet sent: the first _unsent unsent bytes from _head on
    private bool _sending;      // a sender owns the head: it alone gathers, sends and marks bytes sent
    private bool _writerDone;
    private bool _shutdownDone;
    private volatile bool _socketClosed; // the connection aborted and disposed the socket: no shutdown to send
    private bool _cancelNext;
    private Exception? _failed; // the socket failed: every flush from now on is completed
    private bool _waiting;      // a FlushAsync returned _wait's pending task (only while _sending)
    private TaskCompletionSource? _drained;

    // ── Armed by WaitIfFullLocked under the lock as it sets _waiting; completed outside the lock by
    // whoever turned _waiting off (the sender, Fail, CancelPendingFlush or the token's callback).
    private ManualResetValueTaskSourceCore<FlushResult> _wait;
    private CancellationTokenRegistration _waitCancellation;

    public SocketOutput(Socket socket, DuplexSocketTransportOptions options)
    {
        _socket = socket;
        _pauseAt = Math.Max(options.MaxWriteBufferSize, 1);
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _unflushed;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        var tail = TailWithRoom(sizeHint);
        return tail.Array.AsMemory(tail.Written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        var tail = TailWithRoom(sizeHint);
        return tail.Array.AsSpan(tail.Written);
    }

    private Segment TailWithRoom(int sizeHint)
    {
        if (_writerDone) throw new InvalidOperationException("Writing is not allowed after the writer was completed.");
        if (sizeHint < 0) throw new ArgumentOutOfRangeException(nameof(sizeHint));
        int wanted = Math.Max(sizeHint, 1);
        var tail = _tail;
        if (tail is not null && !tail.Borrowed && tail.Array.Length - tail.Written >= wanted) return tail;
        // Sizes grow within one batch, so a large message takes a few segments rather than hundreds.
        int size = Math.Max(wanted, tail is null || tail.Borrowed ? MinSegmentSize : Math.Min(tail.Array.Length * 2, 64 * 1024));
        var segment = Segment.Rent(size);
        Append(segment);
        Debug.Assert(segment.Array.Length - segment.Written >= wanted);
        return segment;
    }

    private void Append(Segment segment)
    {
        lock (this)
        {
            Debug.Assert((_head is null) == (_tail is null), "head and tail are both set or both null");
            if (_tail is null) _head = _tail = segment;
            else
            {
                _tail.Next = segment;
                _tail = segment;
            }
        }
    }

    public void WriteByReference(ReadOnlyMemory<byte> bytes)
    {
        if (_writerDone) throw new InvalidOperationException("Writing is not allowed after the writer was completed.");
        if (bytes.IsEmpty) return;
        if (!MemoryMarshal.TryGetArray(bytes, out var array))
        {
            this.Write(bytes.Span);
            return;
        }
        Append(Segment.Borrow(array));
        _unflushed += array.Count;
    }

    public override void Advance(int bytes)
    {
        var tail = _tail;
        if (bytes < 0 || (bytes > 0 && (tail is null || tail.Borrowed || tail.Written + bytes > tail.Array.Length)))
            throw new ArgumentOutOfRangeException(nameof(bytes));
        if (bytes == 0) return;
        tail!.Written += bytes;
        _unflushed += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        bool canceled;
        lock (this)
        {
            AssertQueueLocked();
            // A cancelled flush still commits its bytes (as a pipe's does); it only does not wait.
            canceled = _cancelNext;
            _cancelNext = false;
            _unsent += _unflushed;
            _unflushed = 0;
            if (_failed is not null) return new ValueTask<FlushResult>(new FlushResult(canceled, isCompleted: true));
            if (_sending) return canceled ? new ValueTask<FlushResult>(new FlushResult(true, false)) : WaitIfFullLocked(cancellationToken);
            _sending = true;
        }
        SendNow();
        lock (this)
        {
            if (_failed is not null) return new ValueTask<FlushResult>(new FlushResult(canceled, isCompleted: true));
            if (canceled) return new ValueTask<FlushResult>(new FlushResult(true, false));
            if (_sending) return WaitIfFullLocked(cancellationToken);
            // The sender stopped with nothing left (a failure returned above) and only the writer flushes.
            Debug.Assert(_unsent == 0, "a sender finishes only when everything flushed was sent");
            // All sent, and the writer's memory is void after a flush: an idle connection keeps no buffer.
            if (_unflushed == 0) ReleaseSegmentsLocked();
            return new ValueTask<FlushResult>(default(FlushResult));
        }
    }

    private ValueTask<FlushResult> WaitIfFullLocked(CancellationToken cancellationToken)
    {
        Debug.Assert(Monitor.IsEntered(this));
        // Only a running sender can wake a waiting flush.
        Debug.Assert(_sending, "a flush waits only while a sender runs");
        if (_unsent < _pauseAt) return new ValueTask<FlushResult>(default(FlushResult));
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<FlushResult>(cancellationToken);
        if (_waiting) throw new InvalidOperationException("A flush is already waiting.");
        _wait.Reset();
        _waiting = true;
        if (cancellationToken.CanBeCanceled)
            _waitCancellation = cancellationToken.UnsafeRegister(static (state, token) => ((SocketOutput)state!).CancelWait(token), this);
        return new ValueTask<FlushResult>(this, _wait.Version);
    }

    /// <summary>
    /// Sends what was flushed with non-blocking sends on this thread, as the owner of the head
    /// (<see cref="_sending"/> is set). When the kernel takes no more, the send loop goes on.
    /// </summary>
    private void SendNow()
    {
        var gather = t_gather ??= new List<ArraySegment<byte>>(MaxGather);
        while (true)
        {
            gather.Clear();
            int count = GatherOrFinish(gather);
            if (count == 0) return;
            SocketError status;
            int sent;
            try
            {
                sent = gather.Count == 1
                    ? _socket.Send(gather[0].Array!, gather[0].Offset, gather[0].Count, SocketFlags.None, out status)
                    : _socket.Send(gather, SocketFlags.None, out status);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
            {
                // Aborted under us: like a failed send, every flush from now on reports completion.
                gather.Clear();
                Fail(ex);
                return;
            }
            gather.Clear();
            if (status is not (SocketError.Success or SocketError.WouldBlock))
            {
                Fail(new SocketException((int)status));
                return;
            }
            Debug.Assert(status != SocketError.Success || (sent >= 0 && sent <= count));
            if (status == SocketError.Success) Sent(sent);
            if (status == SocketError.WouldBlock || sent < count)
            {
                // The kernel takes no more for now: the loop waits for room.
                _ = SendLoopAsync();
                return;
            }
        }
    }

    /// <summary>
    /// Collects up to <see cref="MaxGather"/> flushed buffers from the head and returns their length; when
    /// nothing is left to send (or sending failed), ends this sender's turn and returns 0.
    /// </summary>
    private int GatherOrFinish(List<ArraySegment<byte>> gather)
    {
        lock (this)
        {
            Debug.Assert(_sending, "only the sender gathers");
            Debug.Assert(gather.Count == 0);
            if (_unsent == 0 || _failed is not null)
            {
                FinishSendingLocked();
                return 0;
            }
            long left = _unsent;
            int total = 0;
            for (var segment = _head; segment is not null && left > 0 && gather.Count < MaxGather; segment = segment.Next)
            {
                int n = (int)Math.Min(segment.Written - segment.Sent, left);
                if (n == 0) continue;
                gather.Add(new ArraySegment<byte>(segment.Array, segment.Sent, n));
                left -= n;
                total += n;
            }
            // Nothing gathered would end the turn without finishing it: the sender would hold _sending for good.
            Debug.Assert(total > 0 && total <= _unsent, "what was flushed is in the segments");
            return total;
        }
    }

    /// <summary>Marks <paramref name="bytes"/> from the head as sent; sent segments other than the tail go back to the pool.</summary>
    private void Sent(int bytes)
    {
        bool wake = false;
        lock (this)
        {
            Debug.Assert(_sending, "only the sender marks bytes sent");
            Debug.Assert(bytes >= 0 && bytes <= _unsent, "no more sent than was flushed");
            _unsent -= bytes;
            while (_head is { } head)
            {
                int n = Math.Min(head.Written - head.Sent, bytes);
                head.Sent += n;
                bytes -= n;
                // A sent segment goes, unless the writer may still be filling it (the tail).
                if (head.Sent < head.Written || head == _tail) break;
                _head = Segment.Return(head);
            }
            Debug.Assert(bytes == 0, "every byte sent came from the segments, in order");
            Debug.Assert((_head is null) == (_tail is null), "the tail is never given back while the writer may fill it");
            if (_waiting && _unsent <= _pauseAt / 2)
            {
                _waiting = false;
                wake = true;
            }
        }
        if (wake) Wake(default);
    }

    private async Task SendLoopAsync()
    {
        List<ArraySegment<byte>>? several = null;
        try
        {
            while (true)
            {
                // Gathered into this thread's list and taken out of it before the await. Usually one buffer
                // is waiting, and one buffer goes through the socket's cached awaitable with no allocation;
                // a broadcast to thousands of backed-up receivers starts this loop once per receiver per batch.
                var gather = t_gather ??= new List<ArraySegment<byte>>(MaxGather);
                gather.Clear();
                if (GatherOrFinish(gather) == 0) return;
                int sent;
                if (gather.Count == 1)
                {
                    var only = gather[0];
                    gather.Clear();
                    sent = await _socket.SendAsync(only.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                }
                else
                {
                    several ??= new List<ArraySegment<byte>>(MaxGather);
                    several.Clear();
                    several.AddRange(gather);
                    gather.Clear();
                    sent = await _socket.SendAsync(several, SocketFlags.None).ConfigureAwait(false);
                }
                Sent(sent);
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>The sender is done (all sent, or failed). A completed writer's socket stops sending (FIN).</summary>
    /// <summary>The connection is about to dispose the socket (an abort): the output sends no shutdown of its own.</summary>
    internal void OnSocketClosing() => _socketClosed = true;

    private void FinishSendingLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        Debug.Assert(_sending);
        // A waiting flush was woken on the way down to 0 (Sent), or by Fail or Release.
        Debug.Assert(!_waiting, "no flush is left waiting for a sender that stopped");
        _sending = false;
        if (_writerDone)
        {
            // Nobody writes any more: the buffers can go.
            ReleaseSegmentsLocked();
            if (_unsent == 0 && !_shutdownDone)
            {
                _shutdownDone = true;
                try
                {
                    // An aborted connection's socket is gone already: shutting it down would only throw.
                    if (_failed is null && !_socketClosed) _socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }
        }
        var drained = _drained;
        _drained = null;
        drained?.TrySetResult();
    }

    private void ReleaseSegmentsLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        // A sender sends from the segments outside the lock: they go back only once none runs.
        Debug.Assert(!_sending, "segments are given back only while no sender uses them");
        for (var segment = _head; segment is not null;) segment = Segment.Return(segment);
        _head = _tail = null;
    }

    /// <summary>Sending failed (or the socket was aborted): every flush from now on reports completion.</summary>
    private void Fail(Exception error)
    {
        if (error is SocketException or ObjectDisposedException) error = new IOException(error.Message, error);
        bool wake = false;
        TaskCompletionSource? drained;
        lock (this)
        {
            _failed ??= error;
            _sending = false;
            if (_writerDone) ReleaseSegmentsLocked();
            if (_waiting)
            {
                _waiting = false;
                wake = true;
            }
            drained = _drained;
            _drained = null;
        }
        if (wake) Wake(new FlushResult(false, isCompleted: true));
        drained?.TrySetResult();
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

    private void Wake(FlushResult result)
    {
        _waitCancellation.Dispose();
        _waitCancellation = default;
        _wait.SetResult(result);
    }

    public override void CancelPendingFlush()
    {
        lock (this)
        {
            if (!_waiting)
            {
                _cancelNext = true;
                return;
            }
            _waiting = false;
        }
        Wake(new FlushResult(isCanceled: true, isCompleted: false));
    }

    public override void Complete(Exception? exception = null)
    {
        lock (this)
        {
            if (_writerDone) return;
            _writerDone = true;
            _unsent += _unflushed;
            _unflushed = 0;
            if (_sending) return; // the sender shuts down once it has sent everything
            AssertQueueLocked();
            _sending = true;
        }
        SendNow();
    }

    /// <summary>Completes when everything flushed was sent (or sending failed), or after <paramref name="timeout"/>.</summary>
    public Task DrainAsync(TimeSpan timeout)
    {
        lock (this)
        {
            if (!_sending || _failed is not null) return Task.CompletedTask;
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task.WaitAsync(timeout).ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>The connection is disposed: buffers go back to the pool once no sender uses them.</summary>
    public void Release()
    {
        bool wake = false;
        lock (this)
        {
            _writerDone = true;
            _failed ??= s_released;
            if (!_sending) ReleaseSegmentsLocked();
            // As after a failure: nothing more is sent, and the sender may stop without failing (a send that
            // completes before the socket's disposal aborts it), so nobody else would wake a waiting flush.
            if (_waiting)
            {
                _waiting = false;
                wake = true;
            }
        }
        if (wake) Wake(new FlushResult(false, isCompleted: true));
    }

    /// <summary>
    /// In Debug builds, on the writer's side: the segments hold exactly what was written and not yet sent
    /// (flushed or not). Not from the sender: the writer advances the tail without the lock.
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertQueueLocked()
    {
        Debug.Assert(Monitor.IsEntered(this));
        Debug.Assert((_head is null) == (_tail is null), "head and tail are both set or both null");
        Debug.Assert(_unsent >= 0 && _unflushed >= 0);
        if (_failed is not null) return; // nothing is sent any more; Release may have let the segments go
        long queued = 0;
        for (var segment = _head; segment is not null; segment = segment.Next)
        {
            Debug.Assert(segment.Sent <= segment.Written && segment.Written <= segment.Array.Length);
            Debug.Assert(segment.Next is not null || segment == _tail, "the tail is the last segment");
            queued += segment.Written - segment.Sent;
        }
        Debug.Assert(queued == _unsent + _unflushed, "the segments hold what was written and not yet sent");
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _wait.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _wait.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);
}
