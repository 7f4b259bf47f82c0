namespace Duplex.SocketIO.Adapters;

/// <summary>
/// Which sockets a broadcast or a cluster-wide operation selects (those in any of <see cref="Rooms"/>,
/// every socket when it is empty, minus those in any of <see cref="Except"/>) and how it is sent.
/// The shape is socket.io-adapter's <c>{ rooms, except, flags }</c>, so adapters can ship it as is.
/// </summary>
public sealed record BroadcastOptions
{
    private static readonly IReadOnlySet<string> None = new HashSet<string>();

    /// <summary>The rooms whose sockets are selected (a socket in any of them); empty selects every socket of the namespace.</summary>
    public IReadOnlySet<string> Rooms { get; init; } = None;

    /// <summary>The rooms whose sockets are left out, even when they are in <see cref="Rooms"/>.</summary>
    public IReadOnlySet<string> Except { get; init; } = None;

    /// <summary>Skip recipients that cannot take the packet right now instead of queueing it.</summary>
    public bool Volatile { get; init; }

    /// <summary>
    /// False sends the packet uncompressed: no permessage-deflate on WebSocket recipients that agreed to it,
    /// no HTTP compression of a polling response holding only such packets. Default true.
    /// </summary>
    public bool Compress { get; init; } = true;

    /// <summary>The flags the engine sends with.</summary>
    internal EngineIO.EngineSendFlags SendFlags =>
        (Volatile ? EngineIO.EngineSendFlags.Volatile : 0) | (Compress ? 0 : EngineIO.EngineSendFlags.NoCompression);

    /// <summary>This process only: an adapter must not forward the operation to other nodes.</summary>
    public bool Local { get; init; }

    /// <summary>How long an operation that gathers answers (acks, fetches) waits; null for the adapter's default.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Every socket of the namespace, with the default flags.</summary>
    public static BroadcastOptions All { get; } = new();
}
