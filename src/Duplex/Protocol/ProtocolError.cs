namespace Duplex.Protocol;

/// <summary>Why the peer's bytes fail the connection, and the close code that says so.</summary>
public readonly record struct ProtocolError(CloseStatus Status, string Reason)
{
    /// <summary>The code and the reason, e.g. <c>1002 fragmented control frame</c>.</summary>
    public override string ToString() => $"{(int)Status} {Reason}";
}
