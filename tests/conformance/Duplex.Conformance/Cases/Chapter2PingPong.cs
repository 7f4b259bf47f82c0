using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>Chapter 2, ping and pong (RFC 6455 §5.5.2, §5.5.3).</summary>
internal static class Chapter2PingPong
{
    private const string PongExpected = "A pong with the same payload answers the ping; then a clean close with 1000.";

    public static IEnumerable<ConformanceCase> Cases()
    {
        yield return Ping("2.1", "Send a ping with an empty payload.", [], chop: 0, closeAfter: 1);
        yield return Ping("2.2", "Send a ping with a short text payload.", Payload.Utf8("Hello, world!"), chop: 0, closeAfter: 1);
        yield return Ping("2.3", "Send a ping with a short payload that is not UTF-8.", Payload.Hex("00fffefdfcfb00ff"), chop: 0, closeAfter: 1);
        yield return Ping("2.4", "Send a ping with a 125-octet payload (the largest a control frame may carry).", Payload.Filled(0xFE, 125), chop: 0, closeAfter: 1);
        yield return new ConformanceCase("2.5", "Send a ping with a 126-octet payload.",
            "RFC 6455 §5.5: control payloads are at most 125 octets, so the peer fails the connection (1002).", s =>
            {
                s.Expect(Verdict.Ok);
                s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
                s.SendFrame(Opcode.Ping, Payload.Filled(0xFE, 126));
                s.KillAfter(1);
            });
        yield return Ping("2.6", "Send a ping with a 125-octet payload, one octet per socket write.", Payload.Filled(0xFE, 125), chop: 1, closeAfter: 2);
        yield return UnsolicitedPong("2.7", "Send an unsolicited pong with an empty payload, then close.", []);
        yield return UnsolicitedPong("2.8", "Send an unsolicited pong with a payload, then close.", Payload.Utf8("unsolicited pong payload"));
        yield return new ConformanceCase("2.9", "Send an unsolicited pong, then a ping with a payload.",
            "Nothing answers the pong; a pong answers the ping; then a clean close with 1000.", s =>
            {
                s.Expect(Verdict.Ok, CaseEvent.Pong("ping payload"));
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.SendFrame(Opcode.Pong, "unsolicited pong payload");
                s.SendFrame(Opcode.Ping, "ping payload");
                s.CloseAfter(1);
            });
        yield return TenPings("2.10", "Send 10 pings with distinct payloads back to back.", chop: 0);
        yield return TenPings("2.11", "Send 10 pings with distinct payloads back to back, one octet per socket write.", chop: 1);
    }

    private static ConformanceCase Ping(string id, string description, byte[] payload, int chop, double closeAfter) =>
        new(id, description, PongExpected, s =>
        {
            s.Expect(Verdict.Ok, CaseEvent.Pong(payload));
            s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
            s.SendFrame(Opcode.Ping, payload, chopSize: chop);
            s.CloseAfter(closeAfter);
        });

    private static ConformanceCase UnsolicitedPong(string id, string description, byte[] payload) =>
        new(id, description, "RFC 6455 §5.5.3: an unsolicited pong needs no answer, so nothing comes back; clean close with 1000.", s =>
        {
            s.Expect(Verdict.Ok);
            s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
            s.SendFrame(Opcode.Pong, payload);
            s.SendClose(CloseCode.Normal);
            s.CloseAfter(1);
        });

    private static ConformanceCase TenPings(string id, string description, int chop) =>
        new(id, description,
            "A pong for every ping, in order (RFC 6455 §5.5.3 only requires one for the latest, so this checks more than the minimum); clean close with 1000.",
            s =>
            {
                var pongs = new CaseEvent[10];
                for (int i = 0; i < 10; i++)
                {
                    pongs[i] = CaseEvent.Pong($"payload-{i}");
                    s.SendFrame(Opcode.Ping, $"payload-{i}", chopSize: chop);
                }
                s.Expect(Verdict.Ok, pongs);
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.CloseAfter(3);
            });
}
