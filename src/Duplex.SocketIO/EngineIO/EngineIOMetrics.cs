using System.Diagnostics.Metrics;

namespace Duplex.SocketIO.EngineIO;

/// <summary>Engine.IO's instruments, on the meter "Duplex" (<see cref="DuplexMetrics.Meter"/>).</summary>
internal static class EngineIOMetrics
{
    /// <summary>Packets a session did not queue: tag <c>reason</c> is <c>volatile</c> (transport not writable) or <c>buffer_full</c>.</summary>
    public static readonly Counter<long> Dropped = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.engine.dropped",
        description: "Engine.IO packets dropped instead of queued: volatile while the transport was not writable, or over the session's buffer limit");

    /// <summary>Sessions closed because their outgoing buffer passed its limit (<see cref="SlowConsumerPolicy.Close"/>).</summary>
    public static readonly Counter<long> SlowConsumers = DuplexMetrics.Meter.CreateCounter<long>("duplex.socketio.engine.slow_consumers",
        description: "Engine.IO sessions closed because their client did not read what was sent to it");

    public static readonly KeyValuePair<string, object?> Volatile = new("reason", "volatile");
    public static readonly KeyValuePair<string, object?> BufferFull = new("reason", "buffer_full");
}
