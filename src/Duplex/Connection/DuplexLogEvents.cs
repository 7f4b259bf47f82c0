using Microsoft.Extensions.Logging;

namespace Duplex;

/// <summary>Stable event ids of Duplex's log lines, for filtering and alerting.</summary>
public static class DuplexLogEvents
{
    public static readonly EventId TransportError = new(1001, nameof(TransportError));
    public static readonly EventId ProtocolError = new(1002, nameof(ProtocolError));
    public static readonly EventId KeepAliveTimeout = new(1003, nameof(KeepAliveTimeout));
    public static readonly EventId SlowConsumer = new(1004, nameof(SlowConsumer));
    public static readonly EventId TransportRelease = new(1005, nameof(TransportRelease));
    public static readonly EventId HandshakeRejected = new(2001, nameof(HandshakeRejected));
    public static readonly EventId HandlerFailed = new(2002, nameof(HandlerFailed));
    public static readonly EventId ConnectFailed = new(3001, nameof(ConnectFailed));
    public static readonly EventId Reconnecting = new(3002, nameof(Reconnecting));
    public static readonly EventId StateHandlerFailed = new(3003, nameof(StateHandlerFailed));
}
