using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Cases;

/// <summary>Chapter 10: a message the sender split into many frames on its own (RFC 6455 §5.4 allows any fragmentation).</summary>
internal static class Chapter10AutoFragmentation
{
    private const int FragmentSize = 1300;

    public static IEnumerable<ConformanceCase> Cases()
    {
        yield return new ConformanceCase("10.1.1", $"Send a 64 KiB text message split into frames of {FragmentSize} octets.",
            "The reassembled message is echoed unchanged; clean close with 1000.", s =>
            {
                var payload = Payload.Filled((byte)'*', 65536);
                s.Expect(Verdict.Ok, CaseEvent.Message(payload, binary: false));
                s.ExpectClose(closedByMe: true, [CloseCode.Normal], requireClean: true);
                s.SendMessage(payload, binary: false, FragmentSize);
                s.KillAfter(10);
            })
        {
            // Autobahn checks its own frame count too: one text frame and 50 continuations.
            Adjust = (s, outcome) =>
            {
                int expectedContinuations = 65536 / FragmentSize;
                if (s.ConnectionWasOpen && (s.FramesSent(Opcode.Text) != 1 || s.FramesSent(Opcode.Continuation) != expectedContinuations))
                {
                    outcome.Behavior = Verdict.Failed;
                    outcome.Result = $"Harness sent {s.FramesSent(Opcode.Text)} text + {s.FramesSent(Opcode.Continuation)} continuation frames, expected 1 + {expectedContinuations}.";
                }
            },
            HardLimit = TimeSpan.FromSeconds(20),
        };
    }
}
