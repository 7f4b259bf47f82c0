namespace Duplex.Conformance.Wire;

/// <summary>Frame opcodes of RFC 6455 §5.2 (plus helpers to classify them).</summary>
internal static class Opcode
{
    public const int Continuation = 0x0;
    public const int Text = 0x1;
    public const int Binary = 0x2;
    public const int Close = 0x8;
    public const int Ping = 0x9;
    public const int Pong = 0xA;

    // RFC 6455 §5.5: opcodes with the most significant bit set are control frames.
    public static bool IsControl(int opcode) => (opcode & 0x8) != 0;

    // RFC 6455 §5.2: %x3-7 and %xB-F are reserved for further (non-)control frames.
    public static bool IsReserved(int opcode) => opcode is >= 0x3 and <= 0x7 or >= 0xB and <= 0xF;

    public static string Name(int opcode) => opcode switch
    {
        Continuation => "continuation",
        Text => "text",
        Binary => "binary",
        Close => "close",
        Ping => "ping",
        Pong => "pong",
        _ => $"reserved-{opcode}",
    };
}
