using System.IO.Pipelines;

namespace Duplex;

/// <summary>A reader and a writer as one <see cref="IDuplexPipe"/>.</summary>
public sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    /// <summary>The bytes from the peer.</summary>
    public PipeReader Input { get; } = input;
    /// <summary>The bytes to the peer.</summary>
    public PipeWriter Output { get; } = output;
}
