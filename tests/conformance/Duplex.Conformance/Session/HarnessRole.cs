namespace Duplex.Conformance.Session;

/// <summary>Which side of the connection the harness plays; the peer under test plays the other.</summary>
internal enum HarnessRole
{
    /// <summary>Fuzzing client: the harness masks its frames and tests a server.</summary>
    Client,

    /// <summary>Fuzzing server: the harness sends unmasked frames and tests a client.</summary>
    Server,
}

/// <summary>Connection states of RFC 6455 §4 and §7 as the harness tracks them.</summary>
internal enum ConnectionState
{
    Open,
    Closing,
    Closed,
}
