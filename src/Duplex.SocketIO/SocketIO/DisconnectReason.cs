namespace Duplex.SocketIO;

/// <summary>Why a socket disconnected, in the reference server's words.</summary>
public static class DisconnectReason
{
    /// <summary>The client left the namespace (its <c>socket.disconnect()</c>).</summary>
    public const string ClientNamespaceDisconnect = "client namespace disconnect";
    /// <summary>The server put the socket out of the namespace (<see cref="SocketIOSocket.Disconnect"/>).</summary>
    public const string ServerNamespaceDisconnect = "server namespace disconnect";
    /// <inheritdoc cref="EngineIO.EngineCloseReason.TransportClose"/>
    public const string TransportClose = EngineIO.EngineCloseReason.TransportClose;
    /// <inheritdoc cref="EngineIO.EngineCloseReason.TransportError"/>
    public const string TransportError = EngineIO.EngineCloseReason.TransportError;
    /// <inheritdoc cref="EngineIO.EngineCloseReason.PingTimeout"/>
    public const string PingTimeout = EngineIO.EngineCloseReason.PingTimeout;
    /// <inheritdoc cref="EngineIO.EngineCloseReason.ParseError"/>
    public const string ParseError = EngineIO.EngineCloseReason.ParseError;
    /// <inheritdoc cref="EngineIO.EngineCloseReason.ForcedClose"/>
    public const string ForcedClose = EngineIO.EngineCloseReason.ForcedClose;
    /// <inheritdoc cref="EngineIO.EngineCloseReason.SlowConsumer"/>
    public const string SlowConsumer = EngineIO.EngineCloseReason.SlowConsumer;
    /// <summary>The server closed every connection (<see cref="SocketIOServer.Close"/>, also when the application stops).</summary>
    public const string ServerShuttingDown = EngineIO.EngineCloseReason.ServerShuttingDown;
    /// <summary>
    /// The reference server's reason when it closes a client's connection itself; Duplex reports such closes
    /// as <see cref="ForcedClose"/> or <see cref="ServerNamespaceDisconnect"/> and does not raise this one.
    /// </summary>
    public const string ForcedServerClose = "forced server close";
}
