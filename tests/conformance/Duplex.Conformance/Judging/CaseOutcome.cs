namespace Duplex.Conformance.Judging;

/// <summary>The two verdicts of a case and the sentence explaining each.</summary>
internal sealed class CaseOutcome
{
    public string Behavior { get; set; } = Verdict.Failed;
    public string BehaviorClose { get; set; } = Verdict.Failed;
    public string Result { get; set; } = "Actual events differ from any expected.";
    public string ResultClose { get; set; } = "TCP connection was dropped without close handshake";
}
