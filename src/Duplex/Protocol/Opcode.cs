namespace Duplex.Protocol;

/// <summary>Frame opcodes (RFC 6455 §5.2). 3–7 and 0xB–0xF are reserved.</summary>
public enum Opcode : byte
{
    /// <summary>0x0: a further frame of a fragmented message (RFC 6455 §5.4).</summary>
    Continuation = 0x0,
    /// <summary>0x1: the first frame of a text message.</summary>
    Text = 0x1,
    /// <summary>0x2: the first frame of a binary message.</summary>
    Binary = 0x2,
    /// <summary>0x8: a close frame (§5.5.1).</summary>
    Close = 0x8,
    /// <summary>0x9: a ping, to be answered with a pong (§5.5.2).</summary>
    Ping = 0x9,
    /// <summary>0xA: a pong, answering a ping or sent unasked as a heartbeat (§5.5.3).</summary>
    Pong = 0xA,
}

internal static class OpcodeExtensions
{
    public static bool IsControl(this Opcode opcode) => ((byte)opcode & 0x8) != 0;

    public static bool IsDefined(this Opcode opcode) => opcode switch
    {
        Opcode.Continuation or Opcode.Text or Opcode.Binary or Opcode.Close or Opcode.Ping or Opcode.Pong => true,
        _ => false,
    };
}
