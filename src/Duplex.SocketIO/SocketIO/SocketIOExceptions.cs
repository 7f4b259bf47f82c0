namespace Duplex.SocketIO;

/// <summary>
/// Thrown by a namespace middleware to refuse a connection: the client gets <c>connect_error</c> with
/// this message and <see cref="ErrorData"/> as <c>err.data</c>.
/// </summary>
public sealed class SocketIOConnectRefusedException(string message, object? data = null) : Exception(message)
{
    /// <summary>What the client gets as <c>err.data</c>, serialized with the server's JSON options; null sends none.</summary>
    public object? ErrorData { get; } = data;
}
