using System.Net.Sockets;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Judging;
using Duplex.Conformance.Reporting;
using Duplex.Conformance.Session;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Running;

/// <summary>Runs one case on a connection whose opening handshake is done, and turns the session into a <see cref="CaseResult"/>.</summary>
internal static class CaseRunner
{
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    public static async Task<CaseResult> RunAsync(ConformanceCase conformanceCase, Socket socket, HarnessRole role, HandshakeOutcome handshake)
    {
        var session = new CaseSession(conformanceCase, socket, role, handshake.Leftover, handshake.NegotiatedExtensions);
        await session.RunAsync();
        var outcome = CaseJudge.Judge(session, conformanceCase);
        var expectedClose = session.ExpectedClose;
        return new CaseResult
        {
            Id = conformanceCase.Id,
            Chapter = conformanceCase.Chapter,
            Description = conformanceCase.Description,
            Expectation = conformanceCase.Expectation,
            Behavior = outcome.Behavior,
            BehaviorClose = outcome.BehaviorClose,
            Result = outcome.Result,
            ResultClose = outcome.ResultClose,
            Expected = session.Expected
                .GroupBy(e => e.Verdict)
                .ToDictionary(g => g.Key, g => g.First().Events.Select(e => e.Describe()).ToList()),
            ExpectedClose = expectedClose is null
                ? null
                : new ExpectedCloseReport(expectedClose.ClosedByMe, expectedClose.CloseCodes, expectedClose.RequireClean, expectedClose.ClosedByWrongEndpointIsFatal),
            Received = session.Received.Select(e => e.Describe()).ToList(),
            ConnectionWasOpen = session.ConnectionWasOpen,
            ClosedByMe = session.ClosedByMe,
            FailedByMe = session.FailedByMe,
            DroppedByMe = session.DroppedByMe,
            WasClean = session.WasClean,
            WasNotCleanReason = session.WasNotCleanReason,
            TcpClosedBy = session.DroppedByMe ? "harness" : "peer",
            LocalCloseCode = session.LocalCloseCode,
            LocalCloseReason = session.LocalCloseReason,
            RemoteCloseCode = session.RemoteCloseCode,
            RemoteCloseReason = session.RemoteCloseReason,
            DurationMs = session.DurationMs,
            ReportTime = conformanceCase.ReportTime,
            NegotiatedExtensions = session.NegotiatedExtensions,
            FramesReceived = session.FramesReceived,
            FramesReceivedByOpcode = session.FramesReceivedByOpcode,
            FramesSentByOpcode = session.FramesSentByOpcode,
            OctetsSent = session.OctetsSent,
            OctetsReceived = session.OctetsReceived,
            Notes = session.Notes,
        };
    }

    /// <summary>The result for a case whose connection never opened.</summary>
    public static CaseResult NeverOpened(ConformanceCase conformanceCase, string error, long durationMs) => new()
    {
        Id = conformanceCase.Id,
        Chapter = conformanceCase.Chapter,
        Description = conformanceCase.Description,
        Expectation = conformanceCase.Expectation,
        Behavior = Verdict.Failed,
        BehaviorClose = Verdict.Failed,
        Result = "The case never ran.",
        ResultClose = "The WebSocket opening handshake was never completed.",
        HandshakeError = error,
        DurationMs = durationMs,
    };
}
