namespace Duplex.SocketIO.EngineIO;

/// <summary>A packet in a session's outgoing buffer, with the flags it was sent with.</summary>
internal readonly record struct QueuedPacket(EnginePacket Packet, EngineSendFlags Flags)
{
    /// <summary>The packet's WebSocket frame: uncompressed when sent with <see cref="EngineSendFlags.NoCompression"/>.</summary>
    public PreparedMessage ToFrame() => Packet.ToFrame(compress: (Flags & EngineSendFlags.NoCompression) == 0);
}
