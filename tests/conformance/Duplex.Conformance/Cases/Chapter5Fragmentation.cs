using Duplex.Conformance.Judging;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 5, fragmentation (RFC 6455 §5.4): legal fragmented messages with control frames in
/// between must be reassembled; fragmented control frames and broken continuation sequences must
/// fail the connection (1002).
/// </summary>
internal static class Chapter5Fragmentation
{
    private const string Fails = "The peer fails the connection (1002).";

    /// <summary>How a case's frames are cut into socket writes: as they come, one write per frame, or one octet per write.</summary>
    private enum Writes { Together, PerFrame, PerOctet }

    public static IEnumerable<ConformanceCase> Cases()
    {
        yield return Failing("5.1", "Send a ping in two fragments (FIN = 0, then a continuation).", Writes.Together,
            (Opcode.Ping, false, "fragment1"), (Opcode.Continuation, true, "fragment2"));
        yield return Failing("5.2", "Send a pong in two fragments (FIN = 0, then a continuation).", Writes.Together,
            (Opcode.Pong, false, "fragment1"), (Opcode.Continuation, true, "fragment2"));

        foreach (var (id, writes) in new[] { ("5.3", Writes.Together), ("5.4", Writes.PerFrame), ("5.5", Writes.PerOctet) })
        {
            yield return new ConformanceCase(id, "Send a text message in two fragments" + Suffix(writes),
                "The reassembled message is echoed; clean close with 1000.", s =>
                {
                    s.Expect(Verdict.Ok, CaseEvent.Text("fragment1fragment2"));
                    s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                    Send(s, writes, (Opcode.Text, false, "fragment1"), (Opcode.Continuation, true, "fragment2"));
                    s.CloseAfter(1);
                });
        }

        foreach (var (id, writes) in new[] { ("5.6", Writes.Together), ("5.7", Writes.PerFrame), ("5.8", Writes.PerOctet) })
        {
            yield return new ConformanceCase(id, "Send a text message in two fragments with a ping between them" + Suffix(writes),
                "RFC 6455 §5.4: control frames may be injected between fragments. The pong comes first, then the reassembled echo; clean close with 1000.",
                s =>
                {
                    s.Expect(Verdict.Ok, CaseEvent.Pong("ping payload"), CaseEvent.Text("fragment1fragment2"));
                    s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                    Send(s, writes, (Opcode.Text, false, "fragment1"), (Opcode.Ping, true, "ping payload"), (Opcode.Continuation, true, "fragment2"));
                    s.CloseAfter(1);
                });
        }

        foreach (var (id, writes) in new[] { ("5.9", Writes.Together), ("5.10", Writes.PerFrame), ("5.11", Writes.PerOctet) })
        {
            yield return Failing(id, "Send a final continuation frame with no message to continue, then a text message" + Suffix(writes), writes,
                (Opcode.Continuation, true, "non-continuation payload"), (Opcode.Text, true, "Hello, world!"));
        }

        foreach (var (id, writes) in new[] { ("5.12", Writes.Together), ("5.13", Writes.PerFrame), ("5.14", Writes.PerOctet) })
        {
            yield return Failing(id, "Send a non-final continuation frame with no message to continue, then a text message" + Suffix(writes), writes,
                (Opcode.Continuation, false, "non-continuation payload"), (Opcode.Text, true, "Hello, world!"));
        }

        yield return new ConformanceCase("5.15", "Send a complete 2-fragment text message, then a continuation with no message to continue, then a final text fragment.",
            "The first message is echoed, then the peer fails the connection (1002). Failing before the echo is NON-STRICT.", s =>
            {
                s.Expect(Verdict.Ok, CaseEvent.Text("fragment1fragment2"));
                s.Expect(Verdict.NonStrict);
                s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
                Send(s, Writes.Together, (Opcode.Text, false, "fragment1"), (Opcode.Continuation, true, "fragment2"),
                    (Opcode.Continuation, false, "fragment3"), (Opcode.Text, true, "fragment4"));
                s.KillAfter(1);
            });
        yield return Failing("5.16", "Twice: a continuation with no message to continue, a non-final text frame, a final continuation.", Writes.Together,
            (Opcode.Continuation, false, "fragment1"), (Opcode.Text, false, "fragment2"), (Opcode.Continuation, true, "fragment3"),
            (Opcode.Continuation, false, "fragment1"), (Opcode.Text, false, "fragment2"), (Opcode.Continuation, true, "fragment3"));
        yield return Failing("5.17", "Twice: a final continuation with no message to continue, a non-final text frame, a final continuation.", Writes.Together,
            (Opcode.Continuation, true, "fragment1"), (Opcode.Text, false, "fragment2"), (Opcode.Continuation, true, "fragment3"),
            (Opcode.Continuation, true, "fragment1"), (Opcode.Text, false, "fragment2"), (Opcode.Continuation, true, "fragment3"));
        yield return Failing("5.18", "Send a non-final text frame followed by a second text frame (instead of a continuation).", Writes.Together,
            (Opcode.Text, false, "fragment1"), (Opcode.Text, true, "fragment2"));

        yield return Interleaved("5.19", Writes.Together);
        yield return Interleaved("5.20", Writes.PerFrame);
    }

    private static string Suffix(Writes writes) => writes switch
    {
        Writes.PerFrame => "; each frame in its own socket write.",
        Writes.PerOctet => "; one octet per socket write.",
        _ => ".",
    };

    private static void Send(CaseSession s, Writes writes, params (int Opcode, bool Fin, string Payload)[] frames)
    {
        foreach (var (opcode, fin, payload) in frames)
        {
            s.SendFrame(opcode, payload, fin: fin, chopSize: writes == Writes.PerOctet ? 1 : 0, sync: writes == Writes.PerFrame);
        }
    }

    private static ConformanceCase Failing(string id, string description, Writes writes, params (int Opcode, bool Fin, string Payload)[] frames) =>
        new(id, description, Fails, s =>
        {
            s.Expect(Verdict.Ok);
            s.ExpectClose(closedByMe: false, [CloseCode.ProtocolError], requireClean: false);
            Send(s, writes, frames);
            s.KillAfter(1);
        });

    private static ConformanceCase Interleaved(string id, Writes writes) =>
        new(id, "Send a text message in 5 fragments: two fragments and a ping, wait 1 s, two more fragments, a second ping, the last fragment"
                + Suffix(writes),
            "Both pongs arrive as the pings do (before the message is complete), then the reassembled echo; clean close with 1000.",
            s =>
            {
                s.Expect(Verdict.Ok, CaseEvent.Pong("pongme 1!"), CaseEvent.Pong("pongme 2!"),
                    CaseEvent.Text("fragment1fragment2fragment3fragment4fragment5"));
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                Send(s, writes, (Opcode.Text, false, "fragment1"), (Opcode.Continuation, false, "fragment2"), (Opcode.Ping, true, "pongme 1!"));
                s.ContinueLater(1, () =>
                {
                    Send(s, writes, (Opcode.Continuation, false, "fragment3"), (Opcode.Continuation, false, "fragment4"),
                        (Opcode.Ping, true, "pongme 2!"), (Opcode.Continuation, true, "fragment5"));
                    s.CloseAfter(1);
                });
            });
}
