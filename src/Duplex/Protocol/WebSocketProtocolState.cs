namespace Duplex.Protocol;

/// <summary>
/// Where a <see cref="WebSocketProtocol"/> is in the life of a connection (RFC 6455 §7). Each side's
/// part of the state only moves forward: our close goes out once, the peer's arrives once.
/// </summary>
public enum WebSocketProtocolState
{
    /// <summary>Messages flow both ways.</summary>
    Open,
    /// <summary>Our close frame is out: we send no more data (§5.5.1); the peer's messages still arrive until its close frame.</summary>
    CloseSent,
    /// <summary>The peer's close frame arrived: nothing after it is read (§5.5.1); we may still send, then our close frame.</summary>
    CloseReceived,
    /// <summary>
    /// We failed the connection (§7.1.7): our close frame carries the error, and input is skipped, not
    /// processed, until the peer's close frame (see <see cref="WebSocketProtocol"/> on why it is read at all).
    /// </summary>
    Failing,
    /// <summary>Both close frames have been exchanged, or the peer answered our failure: input is over (§7.1.1).</summary>
    Closed,
}
