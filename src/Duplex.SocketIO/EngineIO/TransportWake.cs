using System.Threading.Tasks.Sources;

namespace Duplex.SocketIO.EngineIO;

/// <summary>
/// Whoever waits for packets on a transport, taken under the session's lock and signalled once it is
/// released: a pending poll (its completion source) or the WebSocket writer (its reusable signal).
/// The default value wakes nobody.
/// </summary>
internal readonly struct TransportWake
{
    private readonly object? _target;

    public TransportWake(TaskCompletionSource poll) => _target = poll;

    public TransportWake(ReusableSignal writer) => _target = writer;

    public void Signal()
    {
        switch (_target)
        {
            case TaskCompletionSource poll:
                poll.TrySetResult();
                break;
            case ReusableSignal writer:
                writer.Set();
                break;
        }
    }
}

/// <summary>
/// One waiter's signal, reused wait after wait (no allocation per wait), completed synchronously: the
/// one who sets it runs the waiter's continuation on its own thread. One wait at a time; <see cref="Arm"/>
/// starts a wait before it is published, <see cref="Set"/> ends it once.
/// </summary>
internal sealed class ReusableSignal : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core; // RunContinuationsAsynchronously false: inline

    /// <summary>Starts a new wait; the returned task completes at the next <see cref="Set"/>.</summary>
    public ValueTask Arm()
    {
        _core.Reset();
        return new ValueTask(this, _core.Version);
    }

    public void Set() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
