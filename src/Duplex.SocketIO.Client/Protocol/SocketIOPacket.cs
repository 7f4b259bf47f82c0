using System.Text.Json;

namespace Duplex.SocketIO;

/// <summary>
/// A decoded Socket.IO packet: type, namespace, optional ack id, the JSON data (binary parts still as
/// <c>{"_placeholder":true,"num":N}</c>) and the attachments those placeholders point at.
/// </summary>
public sealed class SocketIOPacket
{
    /// <summary>The packet type; a BINARY_EVENT or BINARY_ACK is followed by <see cref="AttachmentCount"/> binary messages.</summary>
    public SocketIOPacketType Type { get; init; }
    /// <summary>The namespace the packet is for, such as "/" (the default, left out of the text) or "/admin".</summary>
    public string Namespace { get; init; } = "/";
    /// <summary>
    /// The acknowledgement id: on an event, the sender waits for the ACK with the same id; on an ACK, the
    /// event it answers. Null when no answer is wanted.
    /// </summary>
    public long? Id { get; init; }
    /// <summary>
    /// The JSON after the header: <c>[name, ...args]</c> for events, <c>[...args]</c> for acks, an object for
    /// CONNECT (the client's <c>auth</c>, or the server's <c>{"sid":…}</c>) and CONNECT_ERROR (or there a plain
    /// string); null when the packet has none, as a DISCONNECT.
    /// </summary>
    public JsonElement? Data { get; init; }

    /// <summary>How many binary attachments follow the text part (BINARY_EVENT / BINARY_ACK).</summary>
    public int AttachmentCount { get; init; }

    /// <summary>
    /// The binary parts received so far, in placeholder order: the receiver adds each binary message that
    /// follows the text part until <see cref="IsComplete"/>.
    /// </summary>
    public List<byte[]> Attachments => _attachments ??= new();

    // Made when first asked for: most packets have no binary parts.
    private List<byte[]>? _attachments;

    /// <summary>The attachments for reading, without making a list for a packet that has none.</summary>
    internal IReadOnlyList<byte[]> ReceivedAttachments => _attachments ?? (IReadOnlyList<byte[]>)Array.Empty<byte[]>();

    /// <summary>True once all <see cref="AttachmentCount"/> attachments are in <see cref="Attachments"/> (at once for a packet without binary parts).</summary>
    public bool IsComplete => (_attachments?.Count ?? 0) >= AttachmentCount;
}
