using System.Text.Json;

namespace Duplex.SocketIO.Client;

/// <summary>
/// A connection attempt failed: the namespace refused it (a CONNECT_ERROR, with the server's
/// <see cref="Exception.Message"/> and <see cref="ErrorData"/>), or the transport or handshake failed
/// (then <see cref="Exception.InnerException"/> says why). The npm client's <c>connect_error</c>.
/// </summary>
public sealed class SocketIOConnectException : Exception
{
    /// <summary>Creates the error for a refusal or a failed attempt.</summary>
    public SocketIOConnectException(string message, JsonElement? data = null, Exception? inner = null) : base(message, inner)
    {
        ErrorData = data;
    }

    /// <summary>The <c>data</c> the server's middleware attached to its refusal (the npm <c>err.data</c>); null when none.</summary>
    public JsonElement? ErrorData { get; }

    /// <summary>True when the server answered with CONNECT_ERROR (as opposed to a transport or handshake failure).</summary>
    public bool IsRefusal => InnerException is null;
}

/// <summary>The server sent something that is not Engine.IO v4 / Socket.IO v5.</summary>
public sealed class SocketIOProtocolException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The server answered the handshake "Transport unknown" (Engine.IO error 0): it does not serve that transport.</summary>
    internal bool TransportUnknown { get; init; }
}
