namespace Duplex.SocketIO;

/// <summary>An acknowledgement that can no longer come: the socket disconnected first.</summary>
public sealed class SocketIODisconnectedException(string reason) : Exception($"the socket disconnected ({reason}) before acknowledging")
{
    public string Reason { get; } = reason;
}
