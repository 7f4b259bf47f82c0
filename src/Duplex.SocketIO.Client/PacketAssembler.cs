using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Client;

/// <summary>
/// Turns Engine.IO messages into Socket.IO packets: parses the text part and gathers the binary
/// attachments a BINARY_EVENT / BINARY_ACK announced. Not thread-safe (one reading loop feeds it).
/// </summary>
internal sealed class PacketAssembler
{
    private SocketIOPacket? _partial;

    /// <summary>
    /// Feeds one message. Returns true with <paramref name="packet"/> set when a packet is complete,
    /// true with null while attachments are still due, false when the message is malformed here
    /// (binary nobody announced, text while attachments are due, or text that does not parse).
    /// </summary>
    public bool TryAdd(EnginePacket message, out SocketIOPacket? packet, out string? error)
    {
        packet = null;
        error = null;
        if (message.Binary is { } bytes)
        {
            if (_partial is not { } partial)
            {
                error = "a binary message arrived that no packet announced";
                return false;
            }
            partial.Attachments.Add(bytes);
            if (!partial.IsComplete) return true;
            _partial = null;
            packet = partial;
            return true;
        }
        if (_partial is not null)
        {
            error = "a text packet arrived while attachments were still due";
            return false;
        }
        if (!SocketIOPacketParser.TryParse(message.Text!, out var parsed))
        {
            error = "not a Socket.IO packet: " + (message.Text!.Length > 80 ? message.Text[..80] + "…" : message.Text);
            return false;
        }
        if (parsed.AttachmentCount > parsed.Attachments.Count)
        {
            _partial = parsed;
            return true;
        }
        packet = parsed;
        return true;
    }

    public void Reset() => _partial = null;
}
