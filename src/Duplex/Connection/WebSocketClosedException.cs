using Duplex.Protocol;

namespace Duplex;

/// <summary>A send or receive was attempted on a connection that is closing or closed.</summary>
public sealed class WebSocketClosedException : InvalidOperationException
{
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

    public WebSocketState State { get; }
    public CloseStatus? CloseStatus { get; }
}
