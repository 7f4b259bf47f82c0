namespace Duplex.Conformance.Cases;

/// <summary>
/// How a case expects the connection to end: which endpoint starts the closing handshake
/// (from the harness's point of view), which close codes the peer may send, and whether the
/// close must be clean (a completed closing handshake, RFC 6455 §7.1.4).
/// </summary>
/// <param name="ClosedByWrongEndpointIsFatal">
/// For UTF-8 cases: if the harness had to close, the peer never noticed the bad payload, so the
/// case fails outright rather than only its close behaviour.
/// </param>
internal sealed record ExpectedClose(bool ClosedByMe, int[] CloseCodes, bool RequireClean, bool ClosedByWrongEndpointIsFatal = false);
