using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 3, reserved bits. RFC 6455 §5.2: RSV1-3 must be 0 unless a negotiated extension gives
/// them a meaning; none is negotiated here, so the peer must fail the connection (1002).
/// </summary>
internal static class Chapter3ReservedBits
{
    private const string FailExpected = "The peer fails the connection (1002) at the frame with RSV bits set.";
    private const string FailAfterEchoExpected =
        "The first message is echoed, then the peer fails the connection (1002) at the RSV frame and never answers the ping. "
        + "Failing before the echo went out is NON-STRICT.";

    public static IEnumerable<ConformanceCase> Cases()
    {
        var hello = Payload.Utf8("Hello, world!");
        yield return Single("3.1", "Send a small text message with RSV = 1.", Opcode.Text, hello, rsv: 1);
        yield return AfterEcho("3.2", "Send a small text message, the same again with RSV = 2, then a ping.", rsv: 2, chop: 0, sync: false);
        yield return AfterEcho("3.3", "Send a small text message, the same again with RSV = 3, then a ping; each frame in its own socket write.", rsv: 3, chop: 0, sync: true);
        yield return AfterEcho("3.4", "Send a small text message, the same again with RSV = 4, then a ping; one octet per socket write.", rsv: 4, chop: 1, sync: false);
        yield return Single("3.5", "Send a small binary message with RSV = 5.", Opcode.Binary, Payload.Hex("00fffefdfcfb00ff"), rsv: 5);
        // Autobahn's 3.6 is titled "ping with RSV = 6" but puts a binary frame on the wire; the
        // octets are kept the same here so results compare, and the description says what is sent.
        yield return Single("3.6", "Send a binary frame with RSV = 6 (Autobahn's octets for its 'ping with RSV = 6').", Opcode.Binary, hello, rsv: 6);
        yield return Single("3.7", "Send a close frame with RSV = 7.", Opcode.Close, [], rsv: 7);
    }

    private static ConformanceCase Single(string id, string description, int opcode, byte[] payload, int rsv) =>
        new(id, description, FailExpected, s =>
        {
            s.Expect(Verdict.Ok);
            s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
            s.SendFrame(opcode, payload, rsv: rsv);
            s.KillAfter(1);
        });

    private static ConformanceCase AfterEcho(string id, string description, int rsv, int chop, bool sync) =>
        new(id, description, FailAfterEchoExpected, s =>
        {
            var hello = Payload.Utf8("Hello, world!");
            s.Expect(Verdict.Ok, CaseEvent.Message(hello, binary: false));
            s.Expect(Verdict.NonStrict);
            s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
            s.SendFrame(Opcode.Text, hello, chopSize: chop, sync: sync);
            s.SendFrame(Opcode.Text, hello, rsv: rsv, chopSize: chop, sync: sync);
            s.SendFrame(Opcode.Ping, chopSize: chop, sync: sync);
            s.KillAfter(1);
        });
}
