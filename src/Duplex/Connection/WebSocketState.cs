namespace Duplex;

/// <summary>Where a connection is in its life (RFC 6455 §7). States only move forward.</summary>
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

/// <summary>The kind of a data message (RFC 6455 §5.6).</summary>
public enum WebSocketMessageType
{
    /// <summary>UTF-8 text (opcode 0x1); always valid UTF-8, checked on receipt and before sending.</summary>
    Text,
    /// <summary>Arbitrary bytes (opcode 0x2).</summary>
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
