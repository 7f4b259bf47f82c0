namespace Duplex.SocketIO.EngineIO;

/// <summary>How <see cref="EngineIOSession.Send(IReadOnlyList{EnginePacket}, EngineSendFlags)"/> treats packets (Socket.IO's <c>volatile</c> and <c>compress</c> flags).</summary>
[Flags]
public enum EngineSendFlags
{
    /// <summary>Queued until the transport takes them; compressed where the transport compresses.</summary>
    None = 0,

    /// <summary>
    /// Dropped, not queued, unless the transport is writable right now (<see cref="EngineIOSession.IsWritable"/>):
    /// a poll is waiting, or the WebSocket writer has nothing queued or in flight. Counted.
    /// </summary>
    Volatile = 1,

    /// <summary>
    /// Sent uncompressed: over WebSocket without permessage-deflate (RSV1 clear) even where it was agreed;
    /// a polling response is not compressed when every packet in it carries this flag (as the reference).
    /// </summary>
    NoCompression = 2,
}
