using System.IO.Pipelines;

namespace Duplex;

/// <summary>A reader and a writer as one <see cref="IDuplexPipe"/>.</summary>
public sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;
    public PipeWriter Output { get; } = output;
}
