using System.Buffers;
using Duplex.Protocol.Deflate;

namespace Duplex.Protocol;

// Input: frames judged, messages assembled and inflated, control frames surfaced, and what is read
// after a close or a failure.
public sealed partial class WebSocketProtocol
{
    /// <summary>
    /// Reads from the start of <paramref name="input"/> up to the next event and slices off what it used
    /// (all of it on <see cref="WebSocketEvent.NeedMoreData"/>, keeping only an incomplete header or
    /// control frame, which the caller hands back with more bytes behind it). An event's data (the
    /// message, <see cref="ControlPayload"/>, <see cref="Error"/>) is valid until the next call.
    /// </summary>
    public WebSocketEvent Receive(ref ReadOnlySequence<byte> input)
    {
        switch (_input)
        {
            case InputMode.Frames:
                var next = ReadFrames(ref input, out var error);
                if (next == WebSocketEvent.Failure) EnterFailure(error);
                return next;
            case InputMode.Discarding:
                return Discard(ref input);
            case InputMode.Ignoring:
                // §7.1.1: once the close handshake is over the server closes TCP first; the client
                // waits for it, reading (and ignoring) whatever arrives meanwhile.
                if (Role == WebSocketRole.Server)
                {
                    _input = InputMode.Ended;
                    return WebSocketEvent.InputEnded;
                }
                input = input.Slice(input.End);
                return WebSocketEvent.NeedMoreData;
            default:
                return WebSocketEvent.InputEnded;
        }
    }

    /// <summary>Text or binary: the opcode of the first frame of the message last handed out.</summary>
    public Opcode MessageOpcode => _frames.MessageOpcode;

    /// <summary>
    /// Takes the message (or part) of the last <see cref="WebSocketEvent.Message"/> or
    /// <see cref="WebSocketEvent.MessagePart"/>: an array from <see cref="ArrayPool{T}.Shared"/> that the
    /// caller now owns and returns, holding <paramref name="length"/> bytes; null for an empty message.
    /// </summary>
    public byte[]? TakeMessage(out int length)
    {
        var message = _message;
        length = _messageLength;
        _message = null;
        _messageLength = 0;
        return message;
    }

    /// <summary>The payload of the last ping, pong or close frame (unmasked); valid until the next <see cref="Receive"/>.</summary>
    public ReadOnlySpan<byte> ControlPayload => ControlPayloadMemory.Span;

    internal ReadOnlyMemory<byte> ControlPayloadMemory =>
        _controlStorage is null ? default : _controlStorage.AsMemory(0, (int)_frames.Current.PayloadLength);

    /// <summary>The code of the peer's close frame (1005 when it had none); null until one arrived.</summary>
    public CloseStatus? PeerCloseStatus { get; private set; }

    /// <summary>The reason in the peer's close frame (empty when it had none); null until one arrived.</summary>
    public string? PeerCloseReason { get; private set; }

    /// <summary>Why the connection failed: set with <see cref="WebSocketEvent.Failure"/> or by <see cref="Fail"/>.</summary>
    public ProtocolError Error => _error;

    /// <summary>
    /// Fails the connection for a reason of the caller's (a rate limit, say): input is skipped from here
    /// until the peer's close frame, as after a protocol error, and the message in assembly is dropped.
    /// Then send <see cref="WriteClose"/> with the error's code. Does nothing once the connection failed.
    /// </summary>
    public void Fail(ProtocolError error)
    {
        if (_failed) return;
        EnterFailure(error);
    }

    private void EnterFailure(ProtocolError error)
    {
        _failed = true;
        _error = error;
        ReleaseMessage();
        // A failure that was the peer's own close frame needs no waiting for one.
        if (_input is InputMode.Ignoring or InputMode.Ended) return;
        _drainSkip = _inFrame ? _frames.RemainingInFrame : 0;
        _inFrame = false;
        _input = InputMode.Discarding;
    }

    private void ReleaseMessage()
    {
        if (_message is not null) ArrayPool<byte>.Shared.Return(_message);
        _message = null;
        _messageLength = 0;
    }

    private WebSocketEvent ReadFrames(ref ReadOnlySequence<byte> input, out ProtocolError error)
    {
        error = default;
        Span<byte> joined = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            // A compressed message that inflated to more than one part still has parts to hand out.
            if (_inflatedDone) return EmitInflatedPart();
            if (!_inFrame)
            {
                if (input.Length < 2) return WebSocketEvent.NeedMoreData;
                scoped ReadOnlySpan<byte> head = input.FirstSpan;
                if (head.Length < FrameHeader.MaxLength && input.Length > head.Length)
                {
                    int n = (int)Math.Min(FrameHeader.MaxLength, input.Length);
                    input.Slice(0, n).CopyTo(joined);
                    head = joined.Slice(0, n);
                }
                var status = _frames.TryReadHeader(head, out var header, out error);
                if (status == FrameReadStatus.NeedMoreData) return WebSocketEvent.NeedMoreData;
                if (status == FrameReadStatus.Error) return WebSocketEvent.Failure;
                input = input.Slice(header.HeaderLength);
                _inFrame = true;
            }

            var frame = _frames.Current;
            if (frame.Opcode.IsControl())
            {
                int length = (int)frame.PayloadLength;
                if (input.Length < length) return WebSocketEvent.NeedMoreData;
                var payload = (_controlStorage ??= new byte[125]).AsSpan(0, length);
                input.Slice(0, length).CopyTo(payload);
                input = input.Slice(length);
                _frames.ProcessPayload(payload, out _);
                _inFrame = false;
                return frame.Opcode switch
                {
                    Opcode.Ping => WebSocketEvent.Ping,
                    Opcode.Pong => WebSocketEvent.Pong,
                    _ => ReceiveClose(payload, out error),
                };
            }

            long remaining = _frames.RemainingInFrame;
            if (remaining > 0 && _frames.MessageCompressed)
            {
                if (input.IsEmpty) return WebSocketEvent.NeedMoreData;
                if (!InflateChunk(ref input, out error)) return WebSocketEvent.Failure;
                // Strictly more than a chunk: the message's last part (up to a chunk) waits for its end, so
                // the parts are the same however the input was split, and the last is never empty.
                if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount - _inflatedRead > part) return EmitInflatedPart();
                if (_frames.RemainingInFrame > 0) continue;
            }
            else if (remaining > 0)
            {
                if (input.IsEmpty) return WebSocketEvent.NeedMoreData;
                int n = (int)Math.Min(remaining, input.Length);
                if (_options.ReceiveChunkSize is int chunk) n = Math.Min(n, chunk - _messageLength);
                var destination = ReserveMessageSpace(n);
                input.Slice(0, n).CopyTo(destination);
                input = input.Slice(n);
                _messageLength += n;
                if (!_frames.ProcessPayload(destination, out error)) return WebSocketEvent.Failure;
                if (_messageLength == _options.ReceiveChunkSize && !(_frames.RemainingInFrame == 0 && frame.Fin)) return WebSocketEvent.MessagePart;
                if (_frames.RemainingInFrame > 0) return WebSocketEvent.NeedMoreData;
            }
            _inFrame = false;
            if (_frames.CompleteDataFrame(out var endError))
            {
                if (endError is ProtocolError e)
                {
                    error = e;
                    return WebSocketEvent.Failure;
                }
                if (_frames.MessageCompressed)
                {
                    if (!FinishInflating(out error)) return WebSocketEvent.Failure;
                    if (_inflatedDone) return EmitInflatedPart();
                }
                return WebSocketEvent.Message;
            }
        }
    }

    /// <summary>
    /// The peer's close frame: nothing after it is read (§5.5.1). A valid one is surfaced for the
    /// caller to answer; an invalid payload (§7.4, §5.5.1) fails the connection instead.
    /// </summary>
    private WebSocketEvent ReceiveClose(ReadOnlySpan<byte> payload, out ProtocolError error)
    {
        _closeReceived = true;
        _input = InputMode.Ignoring;
        ReleaseMessage();
        if (!TryParseClosePayload(payload, out var status, out var reason, out error)) return WebSocketEvent.Failure;
        PeerCloseStatus = status ?? CloseStatus.NoStatusReceived;
        PeerCloseReason = reason;
        return WebSocketEvent.Close;
    }

    /// <summary>
    /// Validates an unmasked close frame payload (RFC 6455 §5.5.1, §7.4): empty, or a valid code
    /// followed by a UTF-8 reason.
    /// </summary>
    public static bool TryParseClosePayload(ReadOnlySpan<byte> payload, out CloseStatus? status, out string reason, out ProtocolError error)
    {
        status = null;
        reason = "";
        error = default;
        if (payload.Length == 0) return true;
        if (payload.Length == 1)
        {
            error = new(CloseStatus.ProtocolError, "close frame with a 1-byte payload");
            return false;
        }
        int code = (payload[0] << 8) | payload[1];
        if (!CloseStatusRules.IsValidOnWire(code))
        {
            error = new(CloseStatus.ProtocolError, $"invalid close code {code}");
            return false;
        }
        var text = payload.Slice(2);
        if (!System.Text.Unicode.Utf8.IsValid(text))
        {
            error = new(CloseStatus.InvalidPayloadData, "close reason is not valid UTF-8");
            return false;
        }
        status = (CloseStatus)code;
        reason = System.Text.Encoding.UTF8.GetString(text);
        return true;
    }

    /// <summary>Largest frame skipped while waiting for the peer's close after a failure; past it, input ends.</summary>
    private const long MaxDiscardedFrame = 1 << 20;

    /// <summary>After a failure: skips the rest of the failed frame, then whole frames, until the peer's close frame.</summary>
    private WebSocketEvent Discard(ref ReadOnlySequence<byte> input)
    {
        // Some peers (Autobahn's fuzzer among them) answer our close at once, in the middle of the frame
        // they were sending: a close frame where the failed frame's payload would go ends the skipping.
        if (_drainSkip > 0 && StartsWithCloseFrame(input)) _drainSkip = 0;
        if (_drainSkip > 0)
        {
            long skip = Math.Min(_drainSkip, input.Length);
            input = input.Slice(skip);
            _drainSkip -= skip;
            if (_drainSkip > 0) return WebSocketEvent.NeedMoreData;
        }
        Span<byte> head = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            int n = (int)Math.Min(FrameHeader.MaxLength, input.Length);
            input.Slice(0, n).CopyTo(head);
            if (!FrameHeader.TryParse(head.Slice(0, n), out var h)) return WebSocketEvent.NeedMoreData;
            if (h.PayloadLength is < 0 or > MaxDiscardedFrame)
            {
                _input = InputMode.Ended;
                return WebSocketEvent.InputEnded;
            }
            long total = h.HeaderLength + h.PayloadLength;
            if (input.Length < total) return WebSocketEvent.NeedMoreData;
            input = input.Slice(total);
            if (h.Opcode == Opcode.Close)
            {
                _closeReceived = true;
                _input = InputMode.Ignoring;
                return Receive(ref input);
            }
        }
    }

    private bool StartsWithCloseFrame(in ReadOnlySequence<byte> input)
    {
        Span<byte> head = stackalloc byte[FrameHeader.MaxLength];
        int n = (int)Math.Min(FrameHeader.MaxLength, input.Length);
        input.Slice(0, n).CopyTo(head);
        return FrameHeader.TryParse(head.Slice(0, n), out var h)
            && h.Opcode == Opcode.Close && h.Fin && h.PayloadLength <= 125
            && h.Masked == (Role == WebSocketRole.Server);
    }

    /// <summary>
    /// Unmasks the next piece of a compressed frame into a scratch buffer and inflates it, bounded by
    /// the message size limit (a decompression bomb stops at the limit: 1009), validating text as it
    /// comes out (RFC 7692 §8: UTF-8 applies to the decompressed data).
    /// </summary>
    private bool InflateChunk(ref ReadOnlySequence<byte> input, out ProtocolError error)
    {
        var scratch = _compressedIn ??= new byte[16 * 1024];
        int n = (int)Math.Min(Math.Min(_frames.RemainingInFrame, input.Length), scratch.Length);
        var chunk = scratch.AsSpan(0, n);
        input.Slice(0, n).CopyTo(chunk);
        input = input.Slice(n);
        _frames.ProcessPayload(chunk, out _);
        return Inflate(chunk, endOfMessage: false, out error);
    }

    private bool FinishInflating(out ProtocolError error)
    {
        // RFC 7692 §7.2.2: the 00 00 FF FF the sender stripped is put back at the end of the message.
        if (!Inflate(ReadOnlySpan<byte>.Empty, endOfMessage: true, out error)) return false;
        if (_frames.MessageOpcode == Opcode.Text && !_inflatedUtf8.IsComplete)
        {
            error = new(CloseStatus.InvalidPayloadData, "text message ends inside a UTF-8 sequence");
            return false;
        }
        _inflatedUtf8.Reset();
        if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount - _inflatedRead > part || _inflatedRead > 0)
        {
            _inflatedDone = true;
            return true;
        }
        _message = _inflated!.DetachBuffer(out _messageLength);
        _inflated = null;
        return true;
    }

    /// <summary>
    /// Hands out the next <see cref="WebSocketProtocolOptions.ReceiveChunkSize"/> bytes of inflated
    /// output as a part of the message (the last part when the message is done and nothing is left).
    /// </summary>
    private WebSocketEvent EmitInflatedPart()
    {
        var rest = _inflated!.WrittenSpan.Slice(_inflatedRead);
        int n = Math.Min(_options.ReceiveChunkSize ?? int.MaxValue, rest.Length);
        if (_inflatedDone && n == rest.Length)
        {
            if (_inflatedRead == 0)
            {
                _message = _inflated.DetachBuffer(out _messageLength);
            }
            else
            {
                _message = ArrayPool<byte>.Shared.Rent(Math.Max(n, 1));
                rest.CopyTo(_message);
                _messageLength = n;
                _inflated.Dispose();
            }
            _inflated = null;
            _inflatedRead = 0;
            _inflatedDone = false;
            return WebSocketEvent.Message;
        }
        var part = ArrayPool<byte>.Shared.Rent(n);
        rest.Slice(0, n).CopyTo(part);
        _message = part;
        _messageLength = n;
        _inflatedRead += n;
        // Parts are read from the front of the inflated bytes; what is left moves to a fresh buffer only
        // once more has been handed out than is left, so each byte moves O(1) times. Moving the rest on
        // every part made a 16 MiB inflation in 4 KiB parts take seconds (quadratic).
        if (_inflatedRead >= _inflated.WrittenCount - _inflatedRead)
        {
            var left = _inflated.WrittenSpan.Slice(_inflatedRead);
            var moved = new PooledBufferWriter(Math.Max(1024, left.Length)) { MaxCapacity = _inflated.MaxCapacity };
            left.CopyTo(moved.GetSpan(left.Length));
            moved.Advance(left.Length);
            _inflated.Dispose();
            _inflated = moved;
            _inflatedRead = 0;
        }
        return WebSocketEvent.MessagePart;
    }

    private bool Inflate(ReadOnlySpan<byte> compressed, bool endOfMessage, out ProtocolError error)
    {
        _inflated ??= new PooledBufferWriter(1024) { MaxCapacity = (int)Math.Min(int.MaxValue - 64, _options.MaxMessageSize) };
        int before = _inflated.WrittenCount;
        var inflater = _inflater ?? (_messageInflater ??= InflaterPool.Rent(_sharedInflaterWindowBits));
        if (inflater.Inflate(compressed, endOfMessage, _options.MaxMessageSize, _inflated, out error) != InflateStatus.Done)
        {
            // A failed decompressor is unusable (and the connection is failing): it never goes back.
            if (_messageInflater is not null)
            {
                _messageInflater.Dispose();
                _messageInflater = null;
            }
            return false;
        }
        if (endOfMessage && _messageInflater is not null)
        {
            InflaterPool.Return(_messageInflater);
            _messageInflater = null;
        }
        if (_frames.MessageOpcode == Opcode.Text && !_inflatedUtf8.Feed(_inflated.WrittenSpan.Slice(before)))
        {
            error = new(CloseStatus.InvalidPayloadData, "invalid UTF-8 in text message");
            return false;
        }
        return true;
    }

    private Span<byte> ReserveMessageSpace(int count)
    {
        int needed = _messageLength + count;
        if (_message is null || _message.Length < needed)
        {
            // Grow with the data that has arrived, not with what a header announces: a peer that
            // declares a huge frame and sends nothing must not make us allocate it. But a frame's
            // announced end is trusted up to 64 KiB, or up to twice what is held: a 16 KiB message
            // arriving in pieces then takes one buffer instead of three (and two copies less).
            long frameEnd = _messageLength + _frames.RemainingInFrame;
            long step = Math.Max(_message is null ? 0 : (long)_message.Length * 2, 64 * 1024);
            long cap = _options.ReceiveChunkSize is int chunk ? Math.Min(chunk, _options.MaxMessageSize) : _options.MaxMessageSize;
            int size = (int)Math.Max(needed, Math.Min(Math.Min(frameEnd, step), cap));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            if (_message is not null)
            {
                _message.AsSpan(0, _messageLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_message);
            }
            _message = bigger;
        }
        return _message.AsSpan(_messageLength, count);
    }
}
