using Duplex.Protocol;

namespace Duplex;

/// <summary>A send or receive was attempted on a connection that is closing or closed.</summary>
public sealed class WebSocketClosedException : InvalidOperationException
{
    /// <summary>An exception whose message names the state and, when known, the close code and reason.</summary>
    /// <param name="state">The connection's state at the attempt.</param>
    /// <param name="status">How the connection ended (<see cref="WebSocketConnection.CloseStatus"/>), or null when not known yet.</param>
    /// <param name="reason">The close reason, or null.</param>
    /// <param name="inner">The exception that caused this one, or null.</param>
    public WebSocketClosedException(WebSocketState state, CloseStatus? status, string? reason, Exception? inner = null)
        : base($"The WebSocket connection is {Describe(state)}"
               + (status is CloseStatus s ? $" ({(int)s}{(string.IsNullOrEmpty(reason) ? "" : " " + reason)})." : "."), inner)
    {
        State = state;
        CloseStatus = status;
    }

    private static string Describe(WebSocketState state) => state switch
    {
        WebSocketState.CloseSent => "closing (its close frame was sent)",
        WebSocketState.CloseReceived => "closing (the peer's close frame was received)",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <summary>The connection's state when the send or receive was attempted.</summary>
    public WebSocketState State { get; }
    /// <summary>The connection's close code at the time, or null when it was not known yet.</summary>
    public CloseStatus? CloseStatus { get; }
}
