using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>Chapter 1, framing: text (1.1) and binary (1.2) messages around the 7/16/64-bit length boundaries (RFC 6455 §5.2).</summary>
internal static class Chapter1Framing
{
    private static readonly (int Length, int Chop, double Kill)[] Shapes =
    [
        (0, 0, 1), (125, 0, 1), (126, 0, 1), (127, 0, 1), (128, 0, 1),
        (65535, 0, 10), (65536, 0, 10), (65536, 997, 10),
    ];

    public static IEnumerable<ConformanceCase> Cases()
    {
        for (int i = 0; i < Shapes.Length; i++)
        {
            yield return Echo($"1.1.{i + 1}", Opcode.Text, (byte)'*', Shapes[i]);
        }
        for (int i = 0; i < Shapes.Length; i++)
        {
            yield return Echo($"1.2.{i + 1}", Opcode.Binary, 0xFE, Shapes[i]);
        }
    }

    private static ConformanceCase Echo(string id, int opcode, byte fill, (int Length, int Chop, double Kill) shape)
    {
        string kind = opcode == Opcode.Text ? "text" : "binary";
        string description = $"Send one {kind} message with a payload of {shape.Length} octets"
            + (shape.Chop > 0 ? $", written to the socket in pieces of {shape.Chop} octets." : ".");
        return new ConformanceCase(id, description, $"The {kind} message comes back unchanged; then a clean close with 1000.", s =>
        {
            var payload = Payload.Filled(fill, shape.Length);
            s.Expect(Verdict.Ok, CaseEvent.Message(payload, binary: opcode == Opcode.Binary));
            s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
            s.SendFrame(opcode, payload, chopSize: shape.Chop);
            s.KillAfter(shape.Kill);
        });
    }
}
