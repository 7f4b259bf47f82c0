namespace Duplex.Server.Transport;

/// <summary>
/// Options of Duplex's socket transport for Kestrel (<see cref="DuplexSocketTransportExtensions.UseDuplexSockets"/>).
/// </summary>
public sealed class DuplexSocketTransportOptions
{
    /// <summary>
    /// How many bytes one receive asks the kernel for. A buffer of this size is taken from the pool when
    /// data arrives and given back once the application has consumed it, so an idle connection holds none.
    /// Default 64 KiB (Kestrel's own transport reads 4 KiB at a time).
    /// </summary>
    public int ReadSize { get; set; } = 64 * 1024;

    /// <summary>
    /// How many received bytes the application may leave unconsumed before the transport stops reading
    /// from the socket (TCP then pushes back on the peer). Default 1 MiB, as Kestrel's input pipe.
    /// </summary>
    public int MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many flushed bytes may wait for a peer that does not read before <c>FlushAsync</c> waits too.
    /// Default 64 KiB, as Kestrel's output pipe.
    /// </summary>
    public int MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>TCP_NODELAY on accepted connections. Default true, as Kestrel.</summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>The listen backlog. Default 512, as Kestrel.</summary>
    public int Backlog { get; set; } = 512;
}
