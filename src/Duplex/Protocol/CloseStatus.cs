namespace Duplex.Protocol;

/// <summary>Close status codes (RFC 6455 §7.4.1, IANA registry). Any value 3000–4999 is also valid.</summary>
public enum CloseStatus : ushort
{
    NormalClosure = 1000,
    GoingAway = 1001,
    ProtocolError = 1002,
    UnsupportedData = 1003,
    /// <summary>Never on the wire: the close frame carried no status code.</summary>
    NoStatusReceived = 1005,
    /// <summary>Never on the wire: the connection ended without a close frame.</summary>
    AbnormalClosure = 1006,
    InvalidPayloadData = 1007,
    PolicyViolation = 1008,
    MessageTooBig = 1009,
    MandatoryExtension = 1010,
    InternalServerError = 1011,
    ServiceRestart = 1012,
    TryAgainLater = 1013,
    BadGateway = 1014,
    /// <summary>Never on the wire: the TLS handshake failed.</summary>
    TlsHandshakeFailure = 1015,
}

public static class CloseStatusRules
{
    /// <summary>
    /// Whether a code may appear in a close frame (RFC 6455 §7.4.1/§7.4.2): 1004, 1005, 1006 and 1015
    /// are reserved and 0–999, 1016–2999 are not assigned for use by endpoints.
    /// </summary>
    public static bool IsValidOnWire(int code) => code switch
    {
        >= 1000 and <= 1003 => true,
        >= 1007 and <= 1014 => true,
        >= 3000 and <= 4999 => true,
        _ => false,
    };
}
