namespace Duplex.Protocol;

/// <summary>Why the peer's bytes fail the connection, and the close code that says so.</summary>
public readonly record struct ProtocolError(CloseStatus Status, string Reason)
{
    public override string ToString() => $"{(int)Status} {Reason}";
}
