namespace Duplex.SocketIO;

/// <summary>An acknowledgement that can no longer come: the socket disconnected first.</summary>
public sealed class SocketIODisconnectedException(string reason) : Exception($"the socket disconnected ({reason}) before acknowledging")
{
    /// <summary>
    /// Why the socket disconnected: on the server one of <c>DisconnectReason</c>'s (or "not connected" when
    /// the emit came after the socket had left); on the client the npm client's, such as "transport close"
    /// or "io server disconnect".
    /// </summary>
    public string Reason { get; } = reason;
}
