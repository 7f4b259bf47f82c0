namespace Duplex;

public enum WebSocketState
{
    /// <summary>Messages flow both ways.</summary>
    Open,
    /// <summary>This side sent a close frame and waits for the peer's.</summary>
    CloseSent,
    /// <summary>The peer sent a close frame; the answer is on its way.</summary>
    CloseReceived,
    /// <summary>The close handshake finished, or the connection failed and was closed.</summary>
    Closed,
    /// <summary>The connection was dropped without a close handshake.</summary>
    Aborted,
}

public enum WebSocketMessageType
{
    Text,
    Binary,
}

/// <summary>How a broadcast treats a recipient that is not keeping up.</summary>
public enum SlowConsumerPolicy
{
    /// <summary>The recipient misses this message; the others get it. Counted.</summary>
    DropMessage,
    /// <summary>The recipient is closed with 1013 Try Again Later (dropped after the close timeout if it reads nothing). Counted.</summary>
    Close,
}
