namespace Duplex.Protocol.Deflate;

/// <summary>What one call of <see cref="MessageInflater"/> achieved.</summary>
public enum InflateStatus
{
    /// <summary>All input was taken; if it was the end of the message, the message is complete.</summary>
    Done,
    /// <summary>The destination is full: call again with the input not yet consumed and more space.</summary>
    DestinationTooSmall,
    /// <summary>The decompressed message would exceed the caller's limit; fail the connection with 1009.</summary>
    MessageTooBig,
    /// <summary>The payload is not valid DEFLATE data; fail the connection with 1007.</summary>
    InvalidData,
}
