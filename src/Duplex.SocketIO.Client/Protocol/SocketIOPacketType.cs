namespace Duplex.SocketIO;

/// <summary>Socket.IO v5 packet types, sent as their digit.</summary>
public enum SocketIOPacketType : byte
{
    /// <summary><c>0</c>: a client joins a namespace (data: its <c>auth</c> object, if any); the server's answer admits it with <c>{"sid":…}</c>.</summary>
    Connect = 0,
    /// <summary><c>1</c>: a client leaves a namespace, or the server puts it out.</summary>
    Disconnect = 1,
    /// <summary><c>2</c>: an event <c>[name, ...args]</c>, with an ack id when the sender waits for an answer.</summary>
    Event = 2,
    /// <summary><c>3</c>: the answer <c>[...args]</c> to the event with the same id.</summary>
    Ack = 3,
    /// <summary><c>4</c>: the server refuses a namespace join, with <c>{"message":…,"data":…}</c>.</summary>
    ConnectError = 4,
    /// <summary><c>5</c>: an event with binary parts, written <c>5&lt;N&gt;-…</c> and followed by its N attachments.</summary>
    BinaryEvent = 5,
    /// <summary><c>6</c>: an acknowledgement with binary parts, written and followed as a BINARY_EVENT.</summary>
    BinaryAck = 6,
}
