using System.Buffers.Binary;

namespace Duplex.Cli;

/// <summary>
/// Streams server frames (unmasked, RFC 6455 §5.1) into messages for the load generator: data is
/// handed over in whatever chunks it arrives, so a 1 MiB echo is checked without being held whole.
/// Fragmented messages are reassembled; pings are answered by the caller; compressed messages
/// (RSV1) are gathered and inflated before they are handed over.
/// </summary>
internal abstract class BenchFrameParser
{
    private readonly byte[] _header = new byte[14];
    private int _headerLength;
    private long _remaining;
    private bool _inPayload;
    private byte _opcode;
    private bool _fin;

    // Message state
    private bool _inMessage;
    private bool _messageCompressed;
    private byte _messageOpcode;
    private MemoryStream? _compressed;

    private readonly byte[] _control = new byte[125];
    private int _controlLength;

    /// <summary>Pong frames owed for pings (lock it to use it); the owner sends them, as it owns the socket's send side.</summary>
    public Queue<byte[]> PendingPongs { get; } = new();

    public bool TryTakePong(out byte[] pong)
    {
        lock (PendingPongs) return PendingPongs.TryDequeue(out pong!);
    }

    public bool CloseReceived { get; private set; }

    public ushort CloseCode { get; private set; }

    protected abstract void OnMessageStart(bool text);

    protected abstract void OnMessageData(ReadOnlySpan<byte> data);

    protected abstract void OnMessageEnd();

    /// <summary>Expected size of a compressed message once inflated (bounds the inflate).</summary>
    protected virtual int InflateLimit => 64 * 1024 * 1024;

    public void Consume(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (!_inPayload)
            {
                // Header bytes: take what is needed, one byte at a time only when split across reads.
                int need = NeededHeaderLength();
                while (_headerLength < need && !data.IsEmpty)
                {
                    int take = Math.Min(need - _headerLength, data.Length);
                    data[..take].CopyTo(_header.AsSpan(_headerLength));
                    _headerLength += take;
                    data = data[take..];
                    need = NeededHeaderLength();
                }
                if (_headerLength < need) return;
                StartFrame();
                if (_remaining == 0) EndFrame();
                continue;
            }
            int n = (int)Math.Min(_remaining, data.Length);
            Payload(data[..n]);
            _remaining -= n;
            data = data[n..];
            if (_remaining == 0) EndFrame();
        }
    }

    private int NeededHeaderLength()
    {
        if (_headerLength < 2) return 2;
        int code = _header[1] & 0x7F;
        if ((_header[1] & 0x80) != 0) throw new BenchException("server sent a masked frame (RFC 6455 §5.1)");
        return code == 126 ? 4 : code == 127 ? 10 : 2;
    }

    private void StartFrame()
    {
        _fin = (_header[0] & 0x80) != 0;
        bool rsv1 = (_header[0] & 0x40) != 0;
        _opcode = (byte)(_header[0] & 0x0F);
        int code = _header[1] & 0x7F;
        _remaining = code == 126 ? BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2))
            : code == 127 ? (long)BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)) : code;
        _headerLength = 0;
        _inPayload = true;
        _controlLength = 0;
        switch (_opcode)
        {
            case 0x1 or 0x2:
                if (_inMessage) throw new BenchException("new data frame inside a fragmented message");
                _inMessage = true;
                _messageOpcode = _opcode; // continuation frames carry 0
                _messageCompressed = rsv1;
                if (rsv1) (_compressed ??= new MemoryStream()).SetLength(0);
                else OnMessageStart(_opcode == 0x1);
                break;
            case 0x0:
                if (!_inMessage) throw new BenchException("continuation frame outside a message");
                break;
            case 0x8 or 0x9 or 0xA:
                if (_remaining > 125 || !_fin) throw new BenchException("bad control frame");
                break;
            default:
                throw new BenchException($"unknown opcode {_opcode}");
        }
    }

    private void Payload(ReadOnlySpan<byte> data)
    {
        if (_opcode >= 0x8)
        {
            data.CopyTo(_control.AsSpan(_controlLength));
            _controlLength += data.Length;
        }
        else if (_messageCompressed) _compressed!.Write(data);
        else OnMessageData(data);
    }

    private void EndFrame()
    {
        _inPayload = false;
        switch (_opcode)
        {
            case 0x9:
                var pong = BenchSocket.BuildFrame(0xA, _control.AsSpan(0, _controlLength));
                lock (PendingPongs) PendingPongs.Enqueue(pong);
                return;
            case 0xA:
                return;
            case 0x8:
                CloseReceived = true;
                CloseCode = _controlLength >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(_control) : (ushort)1005;
                return;
        }
        if (!_fin) return;
        _inMessage = false;
        if (_messageCompressed)
        {
            var inflated = BenchSocket.Inflate(_compressed!.GetBuffer().AsSpan(0, (int)_compressed.Length), InflateLimit);
            OnMessageStart(_messageOpcode == 0x1);
            OnMessageData(inflated);
        }
        OnMessageEnd();
    }
}
