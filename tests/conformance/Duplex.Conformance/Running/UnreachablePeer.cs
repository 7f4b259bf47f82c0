using Duplex.Conformance.Cases;
using Duplex.Conformance.Reporting;

namespace Duplex.Conformance.Running;

/// <summary>
/// Keeps a run bounded when the peer is not there at all: after a few cases in a row whose
/// connection never opened, the rest are reported FAILED without waiting out every handshake timeout.
/// </summary>
internal sealed class UnreachablePeer
{
    private const int Limit = 3;
    private int _neverOpenedInARow;

    public bool GaveUp => _neverOpenedInARow >= Limit;

    public void Observe(CaseResult result) =>
        _neverOpenedInARow = result.HandshakeError is null ? 0 : _neverOpenedInARow + 1;

    public CaseResult Skip(ConformanceCase conformanceCase) =>
        CaseRunner.NeverOpened(conformanceCase, $"not attempted: the previous {Limit} cases could not open a WebSocket connection", 0);
}
