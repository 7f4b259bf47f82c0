using Duplex.Protocol;

namespace Duplex.Tests.Support;

/// <summary>
/// One event a <see cref="WebSocketProtocol"/> reported, with the data it came with copied out (the
/// protocol's own buffers are only valid until the next call). Compared by <see cref="ToString"/>, so
/// a list of them diffs readably in an assertion.
/// </summary>
public sealed record ProtocolEvent(WebSocketEvent Kind, Opcode Opcode, byte[] Data, CloseStatus? Status = null, string? Reason = null)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Data);

    public override string ToString() => Kind switch
    {
        WebSocketEvent.Message or WebSocketEvent.MessagePart => $"{Kind} {Opcode} {Convert.ToHexString(Data)}",
        WebSocketEvent.Ping or WebSocketEvent.Pong => $"{Kind} {Convert.ToHexString(Data)}",
        WebSocketEvent.Close => $"{Kind} {(int?)Status} '{Reason}'",
        WebSocketEvent.Failure => $"{Kind} {(int?)Status}",
        _ => Kind.ToString(),
    };
}
