namespace Duplex.Protocol;

/// <summary>What <see cref="WebSocketProtocol.Receive"/> found in the bytes it was given.</summary>
public enum WebSocketEvent
{
    /// <summary>Everything given was used; nothing happens until more bytes arrive.</summary>
    NeedMoreData,
    /// <summary>A whole data message, or the last part of one: take it with <see cref="WebSocketProtocol.TakeMessage"/>.</summary>
    Message,
    /// <summary>A part of a message larger than <see cref="WebSocketProtocolOptions.ReceiveChunkSize"/>; more parts follow.</summary>
    MessagePart,
    /// <summary>A ping (§5.5.2): answer it with <see cref="WebSocketProtocol.WritePong"/> of <see cref="WebSocketProtocol.ControlPayload"/>.</summary>
    Ping,
    /// <summary>A pong (§5.5.3); its payload is <see cref="WebSocketProtocol.ControlPayload"/>.</summary>
    Pong,
    /// <summary>
    /// The peer's valid close frame (<see cref="WebSocketProtocol.PeerCloseStatus"/>): answer it with
    /// <see cref="WebSocketProtocol.WriteCloseReply"/> once the replies still due have gone out.
    /// </summary>
    Close,
    /// <summary>
    /// The peer broke the protocol (<see cref="WebSocketProtocol.Error"/>): the state is now
    /// <see cref="WebSocketProtocolState.Failing"/>; send the close frame with <see cref="WebSocketProtocol.WriteClose"/>.
    /// </summary>
    Failure,
    /// <summary>
    /// Input is over: the server closes TCP now (§7.1.1), or what followed a failure was not worth
    /// reading. A client instead reads on until the server closes TCP (<see cref="NeedMoreData"/>).
    /// </summary>
    InputEnded,
}
