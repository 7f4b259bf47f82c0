namespace Duplex.Protocol;

/// <summary>The outcome of <see cref="FrameReader.TryReadHeader"/>.</summary>
internal enum FrameReadStatus
{
    /// <summary>More bytes are needed before anything can be decided.</summary>
    NeedMoreData,
    /// <summary>A header was read and accepted.</summary>
    Ok,
    /// <summary>The peer broke the protocol; fail the connection with the error's code.</summary>
    Error,
}

/// <summary>
/// The frame layer of <see cref="WebSocketProtocol"/>'s input: it judges frame headers against RFC 6455
/// as they arrive (opcodes, RSV bits, masking, control frame rules, fragment order, the size and
/// fragment limits), unmasks payloads in place, and validates uncompressed text as UTF-8 incrementally.
/// The protocol owns the buffers: it hands over header bytes, then payload bytes copied out of its input.
/// </summary>
internal sealed class FrameReader
{
    private readonly WebSocketRole _role;
    private readonly byte _allowedRsv;
    private readonly WebSocketProtocolOptions _options;
    private FrameHeader _frame;
    private long _remaining;
    private int _maskOffset;

    private bool _inMessage;
    private Opcode _messageOpcode;
    private bool _messageCompressed;
    private long _messageLength;
    private int _fragments;
    private Utf8Validator _utf8;

    /// <summary>A reader for <paramref name="role"/>'s input, allowing <paramref name="allowedRsv"/> on data messages, within <paramref name="options"/>' limits.</summary>
    public FrameReader(WebSocketRole role, byte allowedRsv, WebSocketProtocolOptions options)
    {
        _role = role;
        _allowedRsv = allowedRsv;
        _options = options;
    }

    /// <summary>The header of the frame being read.</summary>
    public FrameHeader Current => _frame;

    /// <summary>Payload bytes of the current frame not yet processed.</summary>
    public long RemainingInFrame => _remaining;

    /// <summary>Opcode (Text or Binary) of the data message in progress.</summary>
    public Opcode MessageOpcode => _messageOpcode;

    /// <summary>Whether the data message in progress was sent compressed (RSV1, RFC 7692 §6).</summary>
    public bool MessageCompressed => _messageCompressed;

    /// <summary>
    /// Reads and judges the next frame header from the start of <paramref name="buffer"/>.
    /// On <see cref="FrameReadStatus.Ok"/> the caller consumes <c>header.HeaderLength</c> bytes.
    /// </summary>
    public FrameReadStatus TryReadHeader(ReadOnlySpan<byte> buffer, out FrameHeader header, out ProtocolError error)
    {
        error = default;
        if (!FrameHeader.TryParse(buffer, out header)) return FrameReadStatus.NeedMoreData;
        var problem = Judge(header);
        if (problem is ProtocolError e)
        {
            error = e;
            return FrameReadStatus.Error;
        }
        _frame = header;
        _remaining = header.PayloadLength;
        _maskOffset = 0;
        if (!header.Opcode.IsControl())
        {
            if (header.Opcode != Opcode.Continuation)
            {
                _inMessage = true;
                _messageOpcode = header.Opcode;
                _messageCompressed = (header.Rsv & FrameHeader.Rsv1) != 0;
                _messageLength = 0;
                _fragments = 0;
                _utf8.Reset();
            }
            _messageLength += header.PayloadLength;
            _fragments++;
        }
        return FrameReadStatus.Ok;
    }

    private ProtocolError? Judge(in FrameHeader h)
    {
        if (!h.Opcode.IsDefined())
            return new(CloseStatus.ProtocolError, $"reserved opcode 0x{(byte)h.Opcode:X}");
        bool control = h.Opcode.IsControl();
        // RFC 6455 §5.2: RSV bits must be 0 unless an extension defines them; RFC 7692 §6: only the
        // first frame of a data message may carry RSV1.
        byte allowed = control || h.Opcode == Opcode.Continuation ? (byte)0 : _allowedRsv;
        if ((h.Rsv & ~allowed) != 0)
            return new(CloseStatus.ProtocolError, $"reserved bits 0x{h.Rsv:X} set without a negotiated extension");
        // RFC 6455 §5.1: clients mask every frame, servers none.
        bool expectMasked = _role == WebSocketRole.Server;
        if (h.Masked != expectMasked)
            return new(CloseStatus.ProtocolError, expectMasked ? "client frame is not masked" : "server frame is masked");
        // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        if (h.PayloadLength < 0)
            return new(CloseStatus.ProtocolError, "64-bit payload length has its top bit set");
        if (control)
        {
            // RFC 6455 §5.5: control frames have payloads of 125 bytes or less and are not fragmented.
            if (!h.Fin) return new(CloseStatus.ProtocolError, "fragmented control frame");
            if (h.PayloadLength > 125) return new(CloseStatus.ProtocolError, "control frame payload over 125 bytes");
            return null;
        }
        if (h.Opcode == Opcode.Continuation)
        {
            if (!_inMessage) return new(CloseStatus.ProtocolError, "continuation frame without a message in progress");
        }
        else if (_inMessage)
        {
            return new(CloseStatus.ProtocolError, "new data frame inside a fragmented message");
        }
        long soFar = h.Opcode == Opcode.Continuation ? _messageLength : 0;
        if (h.PayloadLength > _options.MaxMessageSize - soFar)
            return new(CloseStatus.MessageTooBig, $"message exceeds {_options.MaxMessageSize} bytes");
        int fragments = h.Opcode == Opcode.Continuation ? _fragments : 0;
        if (fragments >= _options.MaxFragments)
            return new(CloseStatus.PolicyViolation, $"message exceeds {_options.MaxFragments} fragments");
        return null;
    }

    /// <summary>
    /// Processes the next <paramref name="payload"/> bytes of the current frame in place: unmasks them
    /// and, for uncompressed text, validates UTF-8 so far. Returns false with an error the moment the
    /// text can no longer be valid.
    /// </summary>
    public bool ProcessPayload(Span<byte> payload, out ProtocolError error)
    {
        error = default;
        if (payload.Length > _remaining) throw new ArgumentException("More payload than the frame holds.", nameof(payload));
        if (_frame.Masked) _maskOffset = Masking.Apply(payload, _frame.MaskKey, _maskOffset);
        _remaining -= payload.Length;
        if (!_frame.Opcode.IsControl() && _messageOpcode == Opcode.Text && !_messageCompressed)
        {
            if (!_utf8.Feed(payload))
            {
                error = new(CloseStatus.InvalidPayloadData, "invalid UTF-8 in text message");
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Call when a data frame's payload has been fully processed. Returns true when the frame ended a
    /// message; an error when that message is text that ends inside a UTF-8 sequence.
    /// </summary>
    public bool CompleteDataFrame(out ProtocolError? error)
    {
        error = null;
        if (!_frame.Fin) return false;
        _inMessage = false;
        if (_messageOpcode == Opcode.Text && !_messageCompressed && !_utf8.IsComplete)
            error = new(CloseStatus.InvalidPayloadData, "text message ends inside a UTF-8 sequence");
        return true;
    }
}
