using Duplex.Conformance.Judging;
using Duplex.Conformance.Session;

namespace Duplex.Conformance.Cases;

/// <summary>
/// One numbered case. <see cref="OnOpen"/> is the script run once the WebSocket is open: it sets the
/// expectations, writes frames and arms timers on the <see cref="CaseSession"/>, exactly the shape
/// of an Autobahn case's onOpen. The same case serves both harness roles; only masking and the
/// TCP-close expectation differ, and the session handles those.
/// </summary>
internal sealed class ConformanceCase(string id, string description, string expectation, Action<CaseSession> onOpen)
{
    public string Id { get; } = id;
    public string Description { get; } = description;
    public string Expectation { get; } = expectation;
    public Action<CaseSession> OnOpen { get; } = onOpen;

    /// <summary>Chapter number, the first component of the id.</summary>
    public int Chapter => int.Parse(Id.AsSpan(0, Id.IndexOf('.')), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The case sends deliberately odd close frames, so a satisfied expectation must not trigger the harness's own close.</summary>
    public bool SuppressClose { get; init; }

    /// <summary>Backstop: no case may run longer than this, whatever the peer does.</summary>
    public TimeSpan HardLimit { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Report the duration prominently (chapter 9 measures performance).</summary>
    public bool ReportTime { get; init; }

    /// <summary>
    /// Sec-WebSocket-Extensions to offer when the harness is the client (chapters 12/13 offer
    /// permessage-deflate). Null offers nothing.
    /// </summary>
    public string? ExtensionOffer { get; init; }

    /// <summary>
    /// When the harness is the server: picks the Sec-WebSocket-Extensions response from the client's
    /// offer. The default declines every extension, as RFC 6455 §9.1 allows.
    /// </summary>
    public Func<string?, string?> AcceptExtensions { get; init; } = _ => null;

    /// <summary>RSV bits the peer may set once <see cref="ExtensionOffer"/> is negotiated (RFC 7692 uses RSV1 = 4).</summary>
    public int RsvAllowedWhenNegotiated { get; init; }

    /// <summary>Case-specific adjustment after the generic judgement (e.g. informational cases, frame counts).</summary>
    public Action<CaseSession, CaseOutcome>? Adjust { get; init; }
}
