namespace Duplex.SocketIO.EngineIO;

/// <summary>Why a session ended, in the words of the reference server (they reach Socket.IO's disconnect reasons).</summary>
public static class EngineCloseReason
{
    /// <summary>The transport ended from the client's side: its WebSocket closed (or broke off), or it sent a close packet.</summary>
    public const string TransportClose = "transport close";
    /// <summary>
    /// The transport failed (a poll or POST broke off, a write failed) or the client broke the rules of
    /// the transport: overlapping polls or POSTs, a binary POST body, a ping of its own.
    /// </summary>
    public const string TransportError = "transport error";
    /// <summary>No pong came within <see cref="EngineIOOptions.PingTimeout"/> of a ping.</summary>
    public const string PingTimeout = "ping timeout";
    /// <summary>The client sent something that is not an Engine.IO packet (under Socket.IO, also not a Socket.IO packet).</summary>
    public const string ParseError = "parse error";
    /// <summary>The server closed the session itself (<see cref="EngineIOSession.Close()"/>, the reference's <c>socket.close()</c>).</summary>
    public const string ForcedClose = "forced close";
    /// <summary>
    /// The session's outgoing buffer passed <see cref="EngineIOOptions.MaxBufferedBytes"/> or
    /// <see cref="EngineIOOptions.MaxBufferedPackets"/> under <see cref="SlowConsumerPolicy.Close"/>: its client
    /// does not read what is sent to it. The client sees its transport close ("transport close").
    /// </summary>
    public const string SlowConsumer = "slow consumer";
    /// <summary>The server closed every session (<see cref="EngineIOServer.CloseAll"/>), as when the application stops.</summary>
    public const string ServerShuttingDown = "server shutting down";
}
