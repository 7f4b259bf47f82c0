namespace Duplex.Protocol;

/// <summary>Close status codes (RFC 6455 §7.4.1, IANA registry). Any value 3000–4999 is also valid.</summary>
public enum CloseStatus : ushort
{
    /// <summary>1000: the purpose of the connection was fulfilled.</summary>
    NormalClosure = 1000,
    /// <summary>1001: the endpoint is going away (a server shutting down, a browser leaving the page).</summary>
    GoingAway = 1001,
    /// <summary>1002: the peer broke the protocol.</summary>
    ProtocolError = 1002,
    /// <summary>1003: a type of data the endpoint cannot accept (e.g. binary where only text is understood).</summary>
    UnsupportedData = 1003,
    /// <summary>Never on the wire: the close frame carried no status code.</summary>
    NoStatusReceived = 1005,
    /// <summary>Never on the wire: the connection ended without a close frame.</summary>
    AbnormalClosure = 1006,
    /// <summary>1007: data inconsistent with the message's type, such as invalid UTF-8 in a text message.</summary>
    InvalidPayloadData = 1007,
    /// <summary>1008: a message broke the endpoint's policy; the generic code when no other fits.</summary>
    PolicyViolation = 1008,
    /// <summary>1009: a message too big to process.</summary>
    MessageTooBig = 1009,
    /// <summary>1010, sent by a client: the server did not negotiate an extension the client requires.</summary>
    MandatoryExtension = 1010,
    /// <summary>1011: the server met an unexpected condition.</summary>
    InternalServerError = 1011,
    /// <summary>1012 (IANA registry): the server is restarting.</summary>
    ServiceRestart = 1012,
    /// <summary>1013 (IANA registry): a temporary condition, such as overload; try again later. Duplex also closes slow broadcast recipients with it.</summary>
    TryAgainLater = 1013,
    /// <summary>1014 (IANA registry): a gateway or proxy got an invalid response from the server behind it.</summary>
    BadGateway = 1014,
    /// <summary>Never on the wire: the TLS handshake failed.</summary>
    TlsHandshakeFailure = 1015,
}

/// <summary>Rules on close codes as numbers, including those <see cref="CloseStatus"/> does not name.</summary>
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
