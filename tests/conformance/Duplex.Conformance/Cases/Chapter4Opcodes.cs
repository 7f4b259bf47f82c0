using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 4, reserved opcodes: non-control 3-7 (4.1) and control 11-15 (4.2). RFC 6455 §5.2: an
/// unknown opcode fails the connection (1002).
/// </summary>
internal static class Chapter4Opcodes
{
    public static IEnumerable<ConformanceCase> Cases()
    {
        foreach (var (section, first) in new[] { (1, 3), (2, 11) })
        {
            yield return Alone($"4.{section}.1", first, []);
            yield return Alone($"4.{section}.2", first + 1, Payload.Utf8("reserved opcode payload"));
            yield return AfterEcho($"4.{section}.3", first + 2, [], chop: 0);
            yield return AfterEcho($"4.{section}.4", first + 3, Payload.Utf8("Hello, world!"), chop: 0);
            yield return AfterEcho($"4.{section}.5", first + 4, Payload.Utf8("Hello, world!"), chop: 1);
        }
    }

    private static ConformanceCase Alone(string id, int opcode, byte[] payload) =>
        new(id, $"Send a frame with reserved opcode {opcode}" + (payload.Length > 0 ? " and a payload." : "."),
            "The peer fails the connection (1002).", s =>
            {
                s.Expect(Verdict.Ok);
                s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
                s.SendFrame(opcode, payload);
                s.KillAfter(1);
            });

    private static ConformanceCase AfterEcho(string id, int opcode, byte[] payload, int chop) =>
        new(id, $"Send a small text message, then a frame with reserved opcode {opcode}"
                + (payload.Length > 0 ? " and a payload" : "") + ", then a ping"
                + (chop > 0 ? "; one octet per socket write." : "."),
            "The text message is echoed, then the peer fails the connection (1002) and never answers the ping. Failing before the echo is NON-STRICT.",
            s =>
            {
                var hello = Payload.Utf8("Hello, world!");
                s.Expect(Verdict.Ok, CaseEvent.Message(hello, binary: false));
                s.Expect(Verdict.NonStrict);
                s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
                s.SendFrame(Opcode.Text, hello, chopSize: chop);
                s.SendFrame(opcode, payload, chopSize: chop);
                s.SendFrame(Opcode.Ping, chopSize: chop);
                s.KillAfter(1);
            });
}
