namespace Duplex.Protocol;

/// <summary>Which end of the connection this is. The role decides masking (RFC 6455 §5.1).</summary>
public enum WebSocketRole
{
    Server,
    Client,
}
