namespace Duplex.SocketIO.EngineIO;

/// <summary>Engine.IO v4 packet types, sent as their digit ('0' … '6').</summary>
public enum EnginePacketType : byte
{
    /// <summary><c>0</c>: the server's handshake answer, with the JSON <c>{sid, upgrades, pingInterval, pingTimeout, maxPayload}</c>.</summary>
    Open = 0,
    /// <summary><c>1</c>: ends the session, from either side.</summary>
    Close = 1,
    /// <summary><c>2</c>: the heartbeat, which in v4 the server sends; <c>2probe</c> is the client's probe of a new WebSocket during an upgrade.</summary>
    Ping = 2,
    /// <summary><c>3</c>: the client's answer to a ping; <c>3probe</c> is the server's answer to the upgrade probe.</summary>
    Pong = 3,
    /// <summary><c>4</c>: application data, text or binary (for Socket.IO, one of its packets or attachments).</summary>
    Message = 4,
    /// <summary><c>5</c>: the client, over the probed WebSocket, moves the session onto it.</summary>
    Upgrade = 5,
    /// <summary><c>6</c>: carries nothing; the server releases a pending poll with it, e.g. while the client completes an upgrade.</summary>
    Noop = 6,
}
