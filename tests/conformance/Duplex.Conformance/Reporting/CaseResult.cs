namespace Duplex.Conformance.Reporting;

/// <summary>Everything reported about one case; serialised as one entry of report.json.</summary>
internal sealed record CaseResult
{
    public required string Id { get; init; }
    public required int Chapter { get; init; }
    public required string Description { get; init; }
    public required string Expectation { get; init; }
    public required string Behavior { get; init; }
    public required string BehaviorClose { get; init; }
    public required string Result { get; init; }
    public required string ResultClose { get; init; }
    public Dictionary<string, List<string>> Expected { get; init; } = [];
    public ExpectedCloseReport? ExpectedClose { get; init; }
    public List<string> Received { get; init; } = [];
    public bool ConnectionWasOpen { get; init; }
    public bool ClosedByMe { get; init; }
    public bool FailedByMe { get; init; }
    public bool DroppedByMe { get; init; }
    public bool WasClean { get; init; }
    public string? WasNotCleanReason { get; init; }

    /// <summary>"harness" or "peer": which side closed the TCP connection first.</summary>
    public string? TcpClosedBy { get; init; }

    public int? LocalCloseCode { get; init; }
    public string? LocalCloseReason { get; init; }
    public int? RemoteCloseCode { get; init; }
    public string? RemoteCloseReason { get; init; }
    public long DurationMs { get; init; }
    public bool ReportTime { get; init; }
    public string? NegotiatedExtensions { get; init; }
    public string? HandshakeError { get; init; }
    public List<string> FramesReceived { get; init; } = [];
    public IDictionary<string, int> FramesReceivedByOpcode { get; init; } = new Dictionary<string, int>();
    public IDictionary<string, int> FramesSentByOpcode { get; init; } = new Dictionary<string, int>();
    public long OctetsSent { get; init; }
    public long OctetsReceived { get; init; }
    public List<string> Notes { get; init; } = [];
}

internal sealed record ExpectedCloseReport(bool ClosedByMe, int[] CloseCodes, bool RequireClean, bool ClosedByWrongEndpointIsFatal);
