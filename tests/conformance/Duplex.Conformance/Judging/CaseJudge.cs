using Duplex.Conformance.Cases;
using Duplex.Conformance.Session;

namespace Duplex.Conformance.Judging;

/// <summary>
/// Turns what a session observed into the two Autobahn verdicts. The rules are Autobahn's:
/// behaviour is the first expectation the received events match exactly; close behaviour checks,
/// in order, who started the closing handshake, whether it completed, the peer's close code, and
/// (when the harness is the client) whether the server was the one to drop TCP.
/// </summary>
internal static class CaseJudge
{
    public static CaseOutcome Judge(CaseSession session, ConformanceCase conformanceCase)
    {
        var outcome = session.Outcome;
        foreach (var (verdict, events) in session.Expected)
        {
            if (session.Received.SequenceEqual(events))
            {
                outcome.Behavior = verdict;
                outcome.Result = "Actual events match at least one expected.";
                break;
            }
        }

        var expected = session.ExpectedClose;
        if (!session.ConnectionWasOpen)
        {
            outcome.Behavior = Verdict.Failed;
            outcome.BehaviorClose = Verdict.Failed;
            outcome.ResultClose = "The WebSocket opening handshake was never completed.";
        }
        else if (expected is null)
        {
            outcome.BehaviorClose = Verdict.Failed;
            outcome.ResultClose = "The case ended before it declared how the connection should close.";
        }
        else
        {
            if (expected.ClosedByMe != session.ClosedByMe)
            {
                outcome.BehaviorClose = Verdict.Failed;
                outcome.ResultClose = expected.ClosedByMe
                    ? "The peer started the closing handshake, but the harness was expected to."
                    : "The harness had to start the closing handshake; the peer should have failed the connection.";
            }
            else if (expected.RequireClean && !session.WasClean)
            {
                outcome.BehaviorClose = Verdict.Unclean;
                outcome.ResultClose = $"The connection had to close cleanly here: {session.WasNotCleanReason}.";
            }
            else if (session.RemoteCloseCode is int code && !expected.CloseCodes.Contains(code))
            {
                outcome.BehaviorClose = Verdict.WrongCode;
                outcome.ResultClose = $"The peer closed with {code}; expected {string.Join(" or ", expected.CloseCodes)} (or no code).";
            }
            else if (session.Role == HarnessRole.Client && session.DroppedByMe)
            {
                // RFC 6455 §7.1.1: the server should close the TCP connection first.
                outcome.BehaviorClose = Verdict.FailedByClient;
                outcome.ResultClose = "The harness (client) had to drop TCP; the server should close the TCP connection first.";
            }
            else
            {
                outcome.BehaviorClose = Verdict.Ok;
                outcome.ResultClose = "Connection was properly closed.";
            }

            // For UTF-8 cases: if the harness had to close, the peer never detected the invalid payload.
            if (expected.ClosedByWrongEndpointIsFatal && expected.ClosedByMe != session.ClosedByMe)
            {
                outcome.Behavior = Verdict.Failed;
                outcome.Result = "The peer did not fail the connection on invalid UTF-8.";
            }
        }

        conformanceCase.Adjust?.Invoke(session, outcome);
        return outcome;
    }

    /// <summary>Adjustment shared by chapter 7: a wrong close code there is a failure of the case itself.</summary>
    public static void WrongCodeFailsCase(CaseSession session, CaseOutcome outcome)
    {
        if (outcome.BehaviorClose == Verdict.WrongCode)
        {
            outcome.Behavior = Verdict.Failed;
            outcome.Result = outcome.ResultClose;
        }
    }

    /// <summary>Adjustment for cases whose outcome the RFC leaves open: report, never fail.</summary>
    public static void Informational(CaseSession session, CaseOutcome outcome)
    {
        string received = session.Received.Count == 0 ? "nothing" : string.Join("; ", session.Received.Select(e => e.Describe()));
        string code = session.RemoteCloseCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
        outcome.Result = $"RFC 6455 leaves this open; received {received}; peer close code {code}; TCP closed by {(session.DroppedByMe ? "the harness" : "the peer")}.";
        outcome.Behavior = Verdict.Informational;
        outcome.BehaviorClose = Verdict.Informational;
    }
}
