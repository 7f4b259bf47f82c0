using System.Buffers.Binary;

namespace Duplex.Conformance.Wire;

/// <summary>
/// Incremental frame decoder: socket reads land in <see cref="GetReceiveBuffer"/>, complete frames come
/// out of <see cref="TryReadFrame"/>. It reports what it sees and leaves protocol judgement to the session.
/// </summary>
internal sealed class FrameParser(long maxFrameLength)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _poisoned;

    public int Buffered => _end - _start;

    /// <summary>Free space for the next socket read, at least <paramref name="sizeHint"/> octets.</summary>
    public Memory<byte> GetReceiveBuffer(int sizeHint)
    {
        if (_buffer.Length - _end < sizeHint)
        {
            int live = _end - _start;
            if (_buffer.Length - live < sizeHint)
            {
                var bigger = new byte[Math.Max(_buffer.Length * 2, live + sizeHint)];
                _buffer.AsSpan(_start, live).CopyTo(bigger);
                _buffer = bigger;
            }
            else
            {
                _buffer.AsSpan(_start, live).CopyTo(_buffer);
            }
            _start = 0;
            _end = live;
        }
        return _buffer.AsMemory(_end);
    }

    public void Advance(int count) => _end += count;

    public void Append(ReadOnlySpan<byte> data)
    {
        data.CopyTo(GetReceiveBuffer(data.Length).Span);
        Advance(data.Length);
    }

    public bool TryReadFrame(out WireFrame? frame)
    {
        frame = null;
        if (_poisoned)
        {
            return false;
        }
        var available = _buffer.AsSpan(_start, _end - _start);
        if (available.Length < 2)
        {
            return false;
        }
        bool fin = (available[0] & 0x80) != 0;
        int rsv = (available[0] >> 4) & 0x7;
        int opcode = available[0] & 0xF;
        bool masked = (available[1] & 0x80) != 0;
        int length7 = available[1] & 0x7F;
        int position = 2;
        ulong declared;
        bool minimal = true;
        if (length7 == 126)
        {
            if (available.Length < 4)
            {
                return false;
            }
            declared = BinaryPrimitives.ReadUInt16BigEndian(available[2..]);
            minimal = declared > 125;
            position = 4;
        }
        else if (length7 == 127)
        {
            if (available.Length < 10)
            {
                return false;
            }
            declared = BinaryPrimitives.ReadUInt64BigEndian(available[2..]);
            minimal = declared > 0xFFFF;
            position = 10;
        }
        else
        {
            declared = (ulong)length7;
        }
        // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        bool highBit = (declared & 0x8000_0000_0000_0000UL) != 0;
        if (highBit || declared > (ulong)maxFrameLength)
        {
            // Do not wait for a payload we will never buffer; report the header and stop decoding.
            _poisoned = true;
            frame = new WireFrame(fin, rsv, opcode, masked, [], minimal, highBit, Oversized: true);
            return true;
        }
        int keyLength = masked ? 4 : 0;
        long total = position + keyLength + (long)declared;
        if (available.Length < total)
        {
            return false;
        }
        var key = available.Slice(position, keyLength);
        var payload = available.Slice(position + keyLength, (int)declared).ToArray();
        if (masked)
        {
            FrameBuilder.ApplyMask(payload, key, 0);
        }
        _start += (int)total;
        if (_start == _end)
        {
            _start = _end = 0;
        }
        frame = new WireFrame(fin, rsv, opcode, masked, payload, minimal, highBit, Oversized: false);
        return true;
    }
}
