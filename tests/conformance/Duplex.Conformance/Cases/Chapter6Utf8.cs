using Duplex.Conformance.Judging;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>
/// Chapter 6, UTF-8 handling. RFC 6455 §8.1: text payloads must be valid UTF-8 and an endpoint that
/// receives invalid UTF-8 fails the connection with 1007. 6.4 checks the failure happens as soon as
/// the bad octet arrives ("fail fast"), 6.5-6.23 run the sequences of Markus Kuhn's UTF-8 decoder
/// test file, grouped the same way Autobahn groups them.
/// </summary>
internal static class Chapter6Utf8
{
    private const string EchoExpected = "The message is echoed unchanged; clean close with 1000.";
    private const string FailExpected = "The peer fails the connection with 1007 because the payload is not valid UTF-8.";

    // "κόσμε" in Greek, the sample text of the UTF-8 test file.
    private static readonly byte[] Kosme = Payload.Hex("cebae1bdb9cf83cebcceb5");

    public static IEnumerable<ConformanceCase> Cases()
    {
        yield return Echo("6.1.1", "Send an empty text message.", s => s.SendFrame(Opcode.Text, ""), "");
        yield return Echo("6.1.2", "Send a text message as 3 empty fragments.", s =>
        {
            s.SendFrame(Opcode.Text, "", fin: false);
            s.SendFrame(Opcode.Continuation, "", fin: false);
            s.SendFrame(Opcode.Continuation, "", fin: true);
        }, "");
        yield return Echo("6.1.3", "Send a text message as 3 fragments: empty, non-empty, empty.", s =>
        {
            s.SendFrame(Opcode.Text, "", fin: false);
            s.SendFrame(Opcode.Continuation, "middle frame payload", fin: false);
            s.SendFrame(Opcode.Continuation, "", fin: true);
        }, "middle frame payload");

        const string Mixed = "Hello-µ@ßöäüàá-UTF-8!!";
        yield return Echo("6.2.1", "Send valid UTF-8 text (with multi-octet code points) in one frame.",
            s => s.SendMessage(Payload.Utf8(Mixed), binary: false), Mixed);
        yield return Echo("6.2.2", "Send valid UTF-8 text in two fragments split on a code point boundary.", s =>
        {
            s.SendFrame(Opcode.Text, "Hello-µ@ßöä", fin: false);
            s.SendFrame(Opcode.Continuation, "üàá-UTF-8!!", fin: true);
        }, Mixed);
        yield return Echo("6.2.3", "Send valid UTF-8 text in 1-octet fragments, so fragments end inside code points.",
            s => s.SendMessage(Payload.Utf8(Mixed), binary: false, fragmentSize: 1), Mixed);
        yield return Echo("6.2.4", "Send valid UTF-8 text (κόσμε) in 1-octet fragments, so fragments end inside code points.",
            s => s.SendMessage(Kosme, binary: false, fragmentSize: 1), System.Text.Encoding.UTF8.GetString(Kosme));

        // κόσμε, then an encoded UTF-16 surrogate (invalid in UTF-8, RFC 3629 §3), then "edited".
        var withSurrogate = Payload.Concat(Kosme, Payload.Hex("eda080"), Payload.Hex("656469746564"));
        yield return Invalid("6.3.1", "Send invalid UTF-8 text (an encoded surrogate in the middle) in one frame.",
            s => s.SendMessage(withSurrogate, binary: false));
        yield return Invalid("6.3.2", "Send invalid UTF-8 text (an encoded surrogate in the middle) in 1-octet fragments.",
            s => s.SendMessage(withSurrogate, binary: false, fragmentSize: 1));

        foreach (var c in FailFast())
        {
            yield return c;
        }

        int section = 5;
        foreach (var (title, sequences) in DecoderTestSequences())
        {
            int number = 1;
            foreach (var (valid, octets) in sequences)
            {
                string id = $"6.{section}.{number++}";
                string hex = "0x" + Convert.ToHexString(octets).ToLowerInvariant();
                yield return valid
                    ? new ConformanceCase(id, $"{title}: send a text message whose payload is valid UTF-8, in one frame: {hex}", EchoExpected, s =>
                    {
                        s.Expect(Verdict.Ok, CaseEvent.Message(octets, binary: false));
                        s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                        s.SendMessage(octets, binary: false);
                        s.KillAfter(0.5);
                    })
                    : new ConformanceCase(id, $"{title}: send a text message whose payload is not valid UTF-8, in one frame: {hex}", FailExpected, s =>
                    {
                        ExpectUtf8Failure(s);
                        s.SendMessage(octets, binary: false);
                        s.KillAfter(0.5);
                    });
            }
            section++;
        }
    }

    private static ConformanceCase Echo(string id, string description, Action<CaseSession> send, string echoed) =>
        new(id, description, EchoExpected, s =>
        {
            s.Expect(Verdict.Ok, CaseEvent.Text(echoed));
            s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
            send(s);
            s.CloseAfter(1);
        });

    private static ConformanceCase Invalid(string id, string description, Action<CaseSession> send) =>
        new(id, description, FailExpected, s =>
        {
            ExpectUtf8Failure(s);
            send(s);
            s.KillAfter(1);
        });

    private static void ExpectUtf8Failure(CaseSession s)
    {
        s.Expect(Verdict.Ok);
        s.ExpectClose(closedByMe: false, [CloseCode.InvalidPayload], requireClean: false, closedByWrongEndpointIsFatal: true);
    }

    /// <summary>
    /// 6.4: κόσμε is sent, then (after 1 s) the part that makes the text invalid, then (after another
    /// 1 s) the rest. A peer that fails right after the invalid part is OK; one that only fails once
    /// the message is complete is NON-STRICT (RFC 6455 §8.1 says "when", not "as soon as").
    /// </summary>
    private static IEnumerable<ConformanceCase> FailFast()
    {
        // F4 90 80 80 would be U+110000, beyond the Unicode range (RFC 3629 §3); the 0x90 is the first octet that cannot be valid.
        var part1 = Kosme;
        var part2 = Payload.Hex("f4908080");
        var part3 = Payload.Hex("656469746564");
        var whole = Payload.Concat(part1, part2, part3);
        var splitAtBadOctet = new[] { whole[..12], whole[12..13], whole[13..] };
        const string Expectation =
            "The first part is accepted (the harness times out waiting once); the peer fails the connection with 1007 right after "
            + "the invalid part arrives. Failing only after the message is complete is NON-STRICT.";

        yield return new ConformanceCase("6.4.1",
            "Send invalid UTF-8 text in 3 frames with 1 s pauses: valid text, then the code point beyond U+10FFFF, then the rest.",
            Expectation, s => ThreeSteps(s, [part1, part2, part3], frame: null));
        yield return new ConformanceCase("6.4.2",
            "Like 6.4.1, but the second frame carries only the one octet that makes the text invalid.",
            Expectation, s => ThreeSteps(s, splitAtBadOctet, frame: null));
        yield return new ConformanceCase("6.4.3",
            "Like 6.4.1, but the 3 parts are pieces of a single frame, written with 1 s pauses.",
            Expectation, s => ThreeSteps(s, [part1, part2, part3], frame: s.BeginFrame(Opcode.Text, whole.Length)));
        yield return new ConformanceCase("6.4.4",
            "Like 6.4.2, but the 3 parts are pieces of a single frame, written with 1 s pauses.",
            Expectation, s => ThreeSteps(s, splitAtBadOctet, frame: s.BeginFrame(Opcode.Text, whole.Length)));
    }

    private static void ThreeSteps(CaseSession s, byte[][] parts, StreamedFrame? frame)
    {
        s.Expect(Verdict.Ok, CaseEvent.Timeout("A"));
        s.Expect(Verdict.NonStrict, CaseEvent.Timeout("A"), CaseEvent.Timeout("B"));
        s.ExpectClose(closedByMe: false, [CloseCode.InvalidPayload], requireClean: false, closedByWrongEndpointIsFatal: true);

        void Send(int index)
        {
            if (frame is not null)
            {
                frame.Send(parts[index]);
            }
            else
            {
                s.SendFrame(index == 0 ? Opcode.Text : Opcode.Continuation, parts[index], fin: index == parts.Length - 1);
            }
        }

        Send(0);
        s.ContinueLater(1, () =>
        {
            if (s.State != ConnectionState.Open)
            {
                return;
            }
            s.Record(CaseEvent.Timeout("A"));
            Send(1);
            s.ContinueLater(1, () =>
            {
                if (s.State != ConnectionState.Open)
                {
                    return;
                }
                s.Record(CaseEvent.Timeout("B"));
                Send(2);
                s.KillAfter(1);
            });
        });
    }

    /// <summary>
    /// The sequences of the UTF-8 decoder capability and stress test (Markus Kuhn), grouped as
    /// Autobahn's sections 6.5 to 6.23. Validity follows RFC 3629: no 5/6-octet forms, no overlongs,
    /// no surrogates, nothing beyond U+10FFFF; noncharacters are valid.
    /// </summary>
    private static IEnumerable<(string Title, List<(bool Valid, byte[] Octets)> Sequences)> DecoderTestSequences()
    {
        static List<(bool, byte[])> All(bool valid, params string[] hex) => hex.Select(h => (valid, Payload.Hex(h))).ToList();

        yield return ("Valid UTF-8", All(true,
            "68656c6c6f24776f726c64", "68656c6c6fc2a2776f726c64", "68656c6c6fe282ac776f726c64",
            "68656c6c6ff0a4ada2776f726c64", "cebae1bdb9cf83cebcceb5"));

        yield return ("Prefixes of valid UTF-8",
            Enumerable.Range(1, Kosme.Length).Select(n => (Utf8Validator.IsValidUtf8(Kosme.AsSpan(0, n)), Kosme[..n])).ToList());

        yield return ("First code point of each sequence length", All(true, "00", "c280", "e0a080", "f0908080"));
        yield return ("First 5- and 6-octet sequences (beyond U+10FFFF)", All(false, "f888808080", "fc8480808080"));
        yield return ("Last code point of each sequence length", All(true, "7f", "dfbf", "efbfbf", "f48fbfbf"));
        yield return ("Last 4-, 5- and 6-octet sequences (beyond U+10FFFF)", All(false, "f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf"));
        yield return ("Other boundaries", [.. All(true, "ed9fbf", "ee8080", "efbfbd", "f48fbfbf"), .. All(false, "f4908080")]);

        var continuations = Enumerable.Range(0x80, 0xBF - 0x80).Select(b => (byte)b).ToArray();
        yield return ("Unexpected continuation octets",
            [.. All(false, "80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf"), (false, continuations)]);

        yield return ("Lonely start octets followed by a space",
            new[] { (0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD) }
                .Select(range => (false, Enumerable.Range(range.Item1, range.Item2 - range.Item1).SelectMany(b => new[] { (byte)b, (byte)0x20 }).ToArray()))
                .ToList());

        string[] truncated = ["c0", "e080", "f08080", "f8808080", "fc80808080", "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf"];
        yield return ("Sequences missing their last continuation octet", All(false, truncated));
        yield return ("Concatenated incomplete sequences", All(false, string.Concat(truncated)));
        yield return ("Impossible octets", All(false, "fe", "ff", "fefeffff"));
        yield return ("Overlong '/'", All(false, "c0af", "e080af", "f08080af", "f8808080af", "fc80808080af"));
        yield return ("Maximal overlong sequences", All(false, "c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf"));
        yield return ("Overlong NUL", All(false, "c080", "e08080", "f0808080", "f880808080", "fc8080808080"));
        yield return ("Single UTF-16 surrogates", All(false, "eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"));
        yield return ("Paired UTF-16 surrogates", All(false,
            "eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
            "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf"));

        var noncharacters = new List<(bool, byte[])> { (true, Payload.Hex("efbfbe")), (true, Payload.Hex("efbfbf")) };
        foreach (byte lead in new byte[] { 0xF0, 0xF1, 0xF2, 0xF3, 0xF4 })
        {
            foreach (byte second in new byte[] { 0x8F, 0x9F, 0xAF, 0xBF })
            {
                // F4 only reaches U+10FFFF with 8F; F0 8F would be overlong.
                if (lead == 0xF4 && second != 0x8F || lead == 0xF0 && second == 0x8F)
                {
                    continue;
                }
                noncharacters.Add((true, [lead, second, 0xBF, 0xBE]));
                noncharacters.Add((true, [lead, second, 0xBF, 0xBF]));
            }
        }
        yield return ("Noncharacters (valid UTF-8)", noncharacters);
        yield return ("Specials block, incl. U+FFFD", All(true, "efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf"));
    }
}
