using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// The event names Socket.IO keeps for itself (socket.io-parser's RESERVED_EVENTS): a socket's own
/// lifecycle events and Node's EventEmitter's. Neither side may emit them, and an incoming event with
/// one is a malformed packet. Case-sensitive, as in Node. One list for the parser, the server's sockets
/// and the client's.
/// </summary>
internal static class ReservedEventNames
{
    private static readonly string[] Names = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

    public static bool Contains(string name) => Array.IndexOf(Names, name) >= 0;

    public static bool Contains(JsonElement name)
    {
        foreach (var reserved in Names)
            if (name.ValueEquals(reserved)) return true;
        return false;
    }

    /// <summary>For emits: a reserved name is the caller's mistake.</summary>
    public static void ThrowIfReserved(string eventName, string paramName)
    {
        if (Contains(eventName)) throw new ArgumentException($"\"{eventName}\" is a reserved event name", paramName);
    }
}
