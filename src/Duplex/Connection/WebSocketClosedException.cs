using Duplex.Protocol;

namespace Duplex;

/// <summary>A send or receive was attempted on a connection that is closing or closed.</summary>
public sealed class WebSocketClosedException : InvalidOperationException
{
    public WebSocketClosedException(WebSocketState state, CloseStatus? status, string? reason, Exception? inner = null)
        : base($"The WebSocket connection is {state.ToString().ToLowerInvariant()}"
               + (status is CloseStatus s ? $" ({(int)s}{(string.IsNullOrEmpty(reason) ? "" : " " + reason)})." : "."), inner)
    {
        State = state;
        CloseStatus = status;
    }

    public WebSocketState State { get; }
    public CloseStatus? CloseStatus { get; }
}
