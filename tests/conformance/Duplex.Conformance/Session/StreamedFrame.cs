using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Session;

/// <summary>
/// A single frame whose header announces the whole payload length but whose payload is written in
/// separate parts, with pauses in between. It lets a case deliver invalid UTF-8 in the middle of
/// one frame and see whether the peer fails fast (cases 6.4.3 and 6.4.4).
/// </summary>
internal sealed class StreamedFrame
{
    private readonly CaseSession _session;
    private readonly byte[] _maskKey;
    private long _written;

    public StreamedFrame(CaseSession session, int opcode, int payloadLength)
    {
        _session = session;
        bool mask = session.Role == HarnessRole.Client;
        _maskKey = new byte[mask ? 4 : 0];
        if (mask)
        {
            FrameBuilder.NewMaskKey(_maskKey);
        }
        PayloadLength = payloadLength;
        var header = new byte[FrameBuilder.HeaderLength(payloadLength, mask)];
        FrameBuilder.WriteHeader(header, opcode, payloadLength, fin: true, rsv: 0, _maskKey);
        session.EnqueueRaw(header);
    }

    public int PayloadLength { get; }

    /// <summary>Writes the next part of the payload (masked with the frame's key when the harness is the client).</summary>
    public void Send(ReadOnlySpan<byte> part)
    {
        var octets = part.ToArray();
        if (_maskKey.Length > 0)
        {
            FrameBuilder.ApplyMask(octets, _maskKey, _written);
        }
        _written += octets.Length;
        _session.EnqueueRaw(octets);
    }
}
