namespace Duplex.SocketIO.EngineIO;

/// <summary>Engine.IO v4 packet types, sent as their digit ('0' … '6').</summary>
public enum EnginePacketType : byte
{
    Open = 0,
    Close = 1,
    Ping = 2,
    Pong = 3,
    Message = 4,
    Upgrade = 5,
    Noop = 6,
}
