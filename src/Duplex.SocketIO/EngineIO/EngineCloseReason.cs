namespace Duplex.SocketIO.EngineIO;

/// <summary>Why a session ended, in the words of the reference server (they reach Socket.IO's disconnect reasons).</summary>
public static class EngineCloseReason
{
    public const string TransportClose = "transport close";
    public const string TransportError = "transport error";
    public const string PingTimeout = "ping timeout";
    public const string ParseError = "parse error";
    public const string ForcedClose = "forced close";
    public const string ServerShuttingDown = "server shutting down";
}
