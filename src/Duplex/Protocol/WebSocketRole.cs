namespace Duplex.Protocol;

/// <summary>Which end of the connection this is. The role decides masking (RFC 6455 §5.1).</summary>
public enum WebSocketRole
{
    /// <summary>The accepting end: sends unmasked frames, requires masked ones, and closes TCP first (RFC 6455 §7.1.1).</summary>
    Server,
    /// <summary>The connecting end: masks every frame it sends and requires unmasked ones.</summary>
    Client,
}
