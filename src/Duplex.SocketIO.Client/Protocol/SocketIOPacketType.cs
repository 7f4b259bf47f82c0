namespace Duplex.SocketIO;

/// <summary>Socket.IO v5 packet types, sent as their digit.</summary>
public enum SocketIOPacketType : byte
{
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}
