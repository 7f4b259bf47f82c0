using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// A decoded Socket.IO packet: type, namespace, optional ack id, the JSON data (binary parts still as
/// <c>{"_placeholder":true,"num":N}</c>) and the attachments those placeholders point at.
/// </summary>
public sealed class SocketIOPacket
{
    public SocketIOPacketType Type { get; init; }
    public string Namespace { get; init; } = "/";
    public long? Id { get; init; }
    public JsonElement? Data { get; init; }

    /// <summary>How many binary attachments follow the text part (BINARY_EVENT / BINARY_ACK).</summary>
    public int AttachmentCount { get; init; }

    public List<byte[]> Attachments { get; } = new();

    public bool IsComplete => Attachments.Count >= AttachmentCount;
}
