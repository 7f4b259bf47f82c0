using Microsoft.Extensions.Logging;

namespace Duplex;

/// <summary>Stable event ids of Duplex's log lines, for filtering and alerting.</summary>
public static class DuplexLogEvents
{
    /// <summary>1001, Debug: the transport under a connection failed (reset, TLS error); the connection ends with 1006.</summary>
    public static readonly EventId TransportError = new(1001, nameof(TransportError));
    /// <summary>1002, Information: the peer broke the protocol or a limit; the connection is failed with the logged close code.</summary>
    public static readonly EventId ProtocolError = new(1002, nameof(ProtocolError));
    /// <summary>
    /// 1003, Information: the peer showed no sign of life for <see cref="WebSocketConnectionOptions.KeepAliveTimeout"/>
    /// after a keep-alive ping; the connection is dropped (1006).
    /// </summary>
    public static readonly EventId KeepAliveTimeout = new(1003, nameof(KeepAliveTimeout));
    /// <summary>
    /// 1004, Information: a broadcast recipient over <see cref="WebSocketConnectionOptions.MaxBufferedBytes"/>
    /// is closed with 1013 (<see cref="SlowConsumerPolicy.Close"/>).
    /// </summary>
    public static readonly EventId SlowConsumer = new(1004, nameof(SlowConsumer));
    /// <summary>1005, Debug: completing the pipes or releasing the socket or stream beneath them threw, once the connection was over.</summary>
    public static readonly EventId TransportRelease = new(1005, nameof(TransportRelease));
    /// <summary>
    /// 1006, Information: no data message arrived for <see cref="WebSocketConnectionOptions.IdleTimeout"/>;
    /// the connection is closed with 1001 "idle timeout".
    /// </summary>
    public static readonly EventId IdleTimeout = new(1006, nameof(IdleTimeout));
    /// <summary>
    /// 1007, Information: the connection reached its <see cref="WebSocketConnectionOptions.MaxLifetime"/>
    /// (less its jitter); it is closed with 1001 "max lifetime".
    /// </summary>
    public static readonly EventId MaxLifetime = new(1007, nameof(MaxLifetime));
    /// <summary>2001, server: an upgrade request was refused (Information, with status and reason), or a connection sent no request in time (Debug).</summary>
    public static readonly EventId HandshakeRejected = new(2001, nameof(HandshakeRejected));
    /// <summary>2002, Error, server: the connection handler threw; the connection is closed with 1011.</summary>
    public static readonly EventId HandlerFailed = new(2002, nameof(HandlerFailed));
    /// <summary>3001, Information: an attempt of <see cref="ReconnectingWebSocket"/> to connect failed; it tries again after the backoff.</summary>
    public static readonly EventId ConnectFailed = new(3001, nameof(ConnectFailed));
    /// <summary>3002, Information: the connection of a <see cref="ReconnectingWebSocket"/> ended with a code worth reconnecting after.</summary>
    public static readonly EventId Reconnecting = new(3002, nameof(Reconnecting));
    /// <summary>3003, Warning: a <see cref="ReconnectingWebSocket.StateChanged"/> handler threw; the client carries on.</summary>
    public static readonly EventId StateHandlerFailed = new(3003, nameof(StateHandlerFailed));
}
