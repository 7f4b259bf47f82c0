using Duplex.Conformance.Judging;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 7, closing (RFC 6455 §5.5.1, §7): the closing handshake started by the harness, close
/// frame payload shapes, valid and invalid close codes (§7.4).
/// </summary>
internal static class Chapter7Close
{
    private static readonly int[] ValidCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];

    // 1004-1006 and 1015 are reserved and must never be sent (§7.4.1); 0-999, 1016-2999 are not
    // assigned (§7.4.2); Autobahn checks these nine.
    private static readonly int[] InvalidCodes = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

    public static IEnumerable<ConformanceCase> Cases()
    {
        yield return new ConformanceCase("7.1.1", "Send a text message, then (once it is echoed) a close frame.",
            "The message is echoed; clean close with 1000.", s =>
            {
                s.Expect(Verdict.Ok, CaseEvent.Text("Hello World!"));
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.SendFrame(Opcode.Text, "Hello World!");
                s.KillAfter(1);
            })
        { Adjust = CaseJudge.WrongCodeFailsCase };
        yield return AfterClose("7.1.2", "Send a close frame, then a second close frame.",
            "Clean close with 1000; RFC 6455 §5.5.1: nothing after the first close counts, so the second is ignored.",
            s => s.SendFrame(Opcode.Close));
        yield return AfterClose("7.1.3", "Send a close frame, then a ping.",
            "Clean close with 1000 and no pong: data after a close frame is ignored (RFC 6455 §5.5.1).",
            s => s.SendFrame(Opcode.Ping));
        yield return AfterClose("7.1.4", "Send a close frame, then a text message.",
            "Clean close with 1000; the text message is ignored.", s => s.SendFrame(Opcode.Text, "Hello World!"));
        yield return new ConformanceCase("7.1.5", "Send the first fragment of a text message, a close frame, then the final fragment.",
            "Clean close with 1000; the incomplete message is never delivered.", s =>
            {
                s.Expect(Verdict.Ok);
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.SendFrame(Opcode.Text, "fragment1", fin: false);
                s.SendClose(CloseCode.Normal);
                s.SendFrame(Opcode.Continuation, "fragment2");
                s.KillAfter(1);
            })
        { SuppressClose = true, Adjust = CaseJudge.WrongCodeFailsCase };
        yield return new ConformanceCase("7.1.6", "Send a 256 KiB text message, a short text message, a close frame and a ping, back to back.",
            "Informational: whether the messages are echoed before the close is the implementation's choice.", s =>
            {
                s.Expect(Verdict.Ok, CaseEvent.Text("Hello World!"));
                s.Expect(Verdict.NonStrict);
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.SendFrame(Opcode.Text, FrameBuilder.Repeat("BAsd7&jh23"u8, 256 * 1024));
                s.SendFrame(Opcode.Text, "Hello World!");
                s.SendClose(CloseCode.Normal);
                s.SendFrame(Opcode.Ping);
                s.KillAfter(1);
            })
        { SuppressClose = true, Adjust = CaseJudge.Informational };

        yield return CloseWith("7.3.1", "Send a close frame with an empty payload (no code, no reason).",
            "Clean close with 1000 (or no code).", code: null, reason: null, [CloseCode.Normal], requireClean: true);
        yield return CloseWith("7.3.2", "Send a close frame with a 1-octet payload.",
            "RFC 6455 §5.5.1: a close body starts with a 2-octet code, so the peer answers 1002 or drops TCP.",
            code: null, reason: Payload.Utf8("a"), [CloseCode.ProtocolError], requireClean: false);
        yield return CloseWith("7.3.3", "Send a close frame with code 1000 and no reason.",
            "Clean close with 1000.", CloseCode.Normal, null, [CloseCode.Normal], requireClean: true);
        yield return CloseWith("7.3.4", "Send a close frame with code 1000 and a reason.",
            "Clean close with 1000.", CloseCode.Normal, Payload.Utf8("Hello World!"), [CloseCode.Normal], requireClean: true);
        yield return CloseWith("7.3.5", "Send a close frame with code 1000 and a 123-octet reason (the longest that fits, RFC 6455 §5.5).",
            "Clean close with 1000.", CloseCode.Normal, Payload.Filled((byte)'*', 123), [CloseCode.Normal], requireClean: true);
        yield return CloseWith("7.3.6", "Send a close frame with code 1000 and a 124-octet reason (126-octet control payload).",
            "The control frame is too long (RFC 6455 §5.5): the peer answers 1002 or drops TCP.",
            CloseCode.Normal, Payload.Filled((byte)'*', 124), [CloseCode.ProtocolError], requireClean: false);

        yield return CloseWith("7.5.1", "Send a close frame with code 1000 and a reason that is not valid UTF-8.",
            "RFC 6455 §5.5.1: the reason is UTF-8; the peer answers 1002 or 1007, or drops TCP.",
            CloseCode.Normal, Payload.Hex("cebae1bdb9cf83cebcceb5eda080656469746564"),
            [CloseCode.ProtocolError, CloseCode.InvalidPayload], requireClean: false);

        for (int i = 0; i < ValidCodes.Length; i++)
        {
            int code = ValidCodes[i];
            yield return CloseWith($"7.7.{i + 1}", $"Send a close frame with the valid code {code}.",
                "Clean close, the peer answering with 1000 or the same code.", code, null, [CloseCode.Normal, code], requireClean: true);
        }
        for (int i = 0; i < InvalidCodes.Length; i++)
        {
            int code = InvalidCodes[i];
            yield return CloseWith($"7.9.{i + 1}", $"Send a close frame with the invalid code {code}.",
                "RFC 6455 §7.4: the code may not be sent; the peer answers 1002 or drops TCP.",
                code, null, [CloseCode.ProtocolError], requireClean: false);
        }

        foreach (var (id, code) in new[] { ("7.13.1", 5000), ("7.13.2", 65535) })
        {
            yield return new ConformanceCase(id, $"Send a close frame with code {code} (outside every range of RFC 6455 §7.4.2).",
                "Informational: RFC 6455 does not say how to answer.", s =>
                {
                    s.Expect(Verdict.Ok);
                    s.ExpectClose(closedByMe: true, [CloseCode.Normal, code, CloseCode.ProtocolError], requireClean: false);
                    s.SendClose(code);
                    s.KillAfter(1);
                })
            { SuppressClose = true, Adjust = CaseJudge.Informational };
        }
    }

    private static ConformanceCase AfterClose(string id, string description, string expectation, Action<CaseSession> afterClose) =>
        new(id, description, expectation, s =>
        {
            s.Expect(Verdict.Ok);
            s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
            s.SendClose(CloseCode.Normal);
            afterClose(s);
            s.KillAfter(1);
        })
        { SuppressClose = true, Adjust = CaseJudge.WrongCodeFailsCase };

    private static ConformanceCase CloseWith(string id, string description, string expectation, int? code, byte[]? reason, int[] codes, bool requireClean) =>
        new(id, description, expectation, s =>
        {
            s.Expect(Verdict.Ok);
            s.ExpectClose(closedByMe: true, codes, requireClean);
            // With no code but a reason (7.3.2) the body is malformed on purpose: it is sent as given.
            s.SendClose(code, reason);
            s.KillAfter(1);
        })
        { SuppressClose = true, Adjust = CaseJudge.WrongCodeFailsCase };
}
