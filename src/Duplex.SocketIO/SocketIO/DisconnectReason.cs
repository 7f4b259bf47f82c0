namespace Duplex.SocketIO;

/// <summary>Why a socket disconnected, in the reference server's words.</summary>
public static class DisconnectReason
{
    public const string ClientNamespaceDisconnect = "client namespace disconnect";
    public const string ServerNamespaceDisconnect = "server namespace disconnect";
    public const string TransportClose = EngineIO.EngineCloseReason.TransportClose;
    public const string TransportError = EngineIO.EngineCloseReason.TransportError;
    public const string PingTimeout = EngineIO.EngineCloseReason.PingTimeout;
    public const string ParseError = EngineIO.EngineCloseReason.ParseError;
    public const string ForcedClose = EngineIO.EngineCloseReason.ForcedClose;
    public const string ServerShuttingDown = EngineIO.EngineCloseReason.ServerShuttingDown;
    public const string ForcedServerClose = "forced server close";
}
