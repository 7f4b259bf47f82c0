using Duplex.Protocol.Deflate;

namespace Duplex.Protocol;

/// <summary>
/// One WebSocket connection's protocol, sans-I/O (RFC 6455, RFC 7692): bytes in through
/// <see cref="Receive"/>, one <see cref="WebSocketEvent"/> at a time; messages and control frames out as
/// frames written into the caller's <see cref="System.Buffers.IBufferWriter{T}"/>, refused where the
/// state forbids them. It owns every rule above and within a frame: message assembly, inflation, UTF-8
/// of text, the limits, the close handshake, failing the connection and what is read after. It never
/// awaits, reads a clock, logs or locks; <see cref="WebSocketConnection"/> drives it over a pipe.
/// </summary>
/// <remarks>
/// <para>Threading: input methods (<see cref="Receive"/>, <see cref="TakeMessage"/>, <see cref="Fail"/>)
/// are called by one reader at a time, output methods (<c>Write…</c>) by one writer at a time; the two
/// may run at once (a read loop and a sender holding a send lock). Each field is written by one side
/// only, and the state combines the two sides' parts.</para>
/// <para>After a failure, RFC 6455 §7.1.7 has the endpoint stop processing input and close the
/// connection. Duplex sends its close frame and then skips the peer's bytes, unprocessed, until the
/// peer's close frame arrives (or the driver's close timeout ends it). Closing a socket with unread
/// bytes makes the kernel reset the connection, and a reset can destroy our close frame before the
/// peer reads it: the peer would see 1006 instead of the code that says what went wrong. Skipping
/// only reads frame lengths: it ends input (<see cref="WebSocketEvent.InputEnded"/>, the state staying
/// <see cref="WebSocketProtocolState.Failing"/>) at a frame over 1 MiB or a length with its top bit
/// set, and the peer's close frame is recognised at the start of a frame, or where the rest of the
/// failed frame's payload would start a read (peers that answer our close at once, mid-frame).</para>
/// </remarks>
public sealed partial class WebSocketProtocol : IDisposable
{
    // ── Set in the constructor, never changed.
    private readonly WebSocketProtocolOptions _options;
    private readonly MaskKeySource? _maskKeys;      // client role: every frame we send is masked (§5.3)
    // permessage-deflate, when agreed: the decompressor (input side) and either our own compressor
    // (context takeover on our side) or a shared one of this window, per message (DeflaterPool).
    private readonly MessageInflater? _inflater;   // null when the peer resets its context: then pooled
    private readonly int _sharedInflaterWindowBits;
    private MessageInflater? _messageInflater;      // the pooled one the message being received holds
    private readonly MessageDeflater? _deflater;
    private readonly int _sharedDeflaterWindowBits;

    // ── Input side (the reader).
    private readonly FrameReader _frames;
    private InputMode _input;
    private bool _closeReceived;
    private bool _failed;
    private bool _inFrame;                          // a header was read; its payload is being read
    private long _drainSkip;                        // payload left of the frame that failed the connection
    private byte[]? _controlStorage;                // control payloads; most connections never see one
    private byte[]? _message;                       // the message being assembled (pooled)
    private int _messageLength;
    private byte[]? _compressedIn;                  // unmasked compressed bytes on their way to the inflater
    private PooledBufferWriter? _inflated;
    private bool _inflatedDone;                     // the compressed message ended; parts of it remain
    private int _inflatedRead;                      // bytes at the front of _inflated already handed out as parts
    private Utf8Validator _inflatedUtf8;
    private ProtocolError _error;

    // ── Output side (the writer).
    private bool _closeSent;
    private bool _sendingFragmented;                // a non-final data frame is out (§5.4)
    private bool _fragmentCompressed;               // the fragmented message being sent is compressed
    private MessageDeflater? _fragmentDeflater;     // its deflater, rented when the context is not kept
    private PooledBufferWriter? _compressedOut;

    private enum InputMode : byte
    {
        Frames,      // reading frames
        Discarding,  // failed: skipping input until the peer's close frame
        Ignoring,    // the peer's close frame is in: nothing more is read (§5.5.1)
        Ended,       // nothing more will be looked at
    }

    /// <summary>A protocol for one connection, at the start of its first frame after the handshake.</summary>
    /// <param name="role">Which end this is: decides masking (§5.1) and who closes TCP first (§7.1.1).</param>
    /// <param name="options">Limits and compression settings; null for <see cref="WebSocketProtocolOptions.Default"/>.</param>
    /// <param name="compression">The permessage-deflate parameters agreed in the handshake, or null: RSV1
    /// then stays reserved and a frame with it set fails the connection.</param>
    public WebSocketProtocol(WebSocketRole role, WebSocketProtocolOptions? options = null, PerMessageDeflateParameters? compression = null)
    {
        Role = role;
        _options = options ?? WebSocketProtocolOptions.Default;
        _frames = new FrameReader(role, compression is null ? (byte)0 : FrameHeader.Rsv1, _options);
        if (role == WebSocketRole.Client) _maskKeys = new MaskKeySource();
        if (compression is not null)
        {
            Compression = compression;
            if (compression.SenderResetsContext(role)) _sharedDeflaterWindowBits = compression.SenderWindowBits(role);
            else _deflater = new MessageDeflater(compression.SenderWindowBits(role), noContextTakeover: false, _options.CompressionLevel, _options.MemoryLevel);
            // A peer that resets its context per message leaves nothing to keep between messages: its
            // messages are inflated by pooled decompressors, held from a message's first frame to its last.
            if (compression.ReceiverResetsContext(role)) _sharedInflaterWindowBits = compression.ReceiverWindowBits(role);
            else _inflater = MessageInflater.Create(compression, role);
        }
    }

    /// <summary>Which end of the connection this is.</summary>
    public WebSocketRole Role { get; }

    /// <summary>The limits and compression settings in force.</summary>
    public WebSocketProtocolOptions Options => _options;

    /// <summary>The permessage-deflate parameters agreed in the handshake, or null.</summary>
    public PerMessageDeflateParameters? Compression { get; }

    /// <summary>Where the connection is: both sides' parts of the close handshake together.</summary>
    public WebSocketProtocolState State
    {
        get
        {
            bool received = _closeReceived, sent = _closeSent;
            if (sent && received) return WebSocketProtocolState.Closed;
            if (_failed) return WebSocketProtocolState.Failing;
            if (sent) return WebSocketProtocolState.CloseSent;
            return received ? WebSocketProtocolState.CloseReceived : WebSocketProtocolState.Open;
        }
    }

    /// <summary>Releases the message in assembly and the zlib state. Call once neither side is in use.</summary>
    public void Dispose()
    {
        ReleaseMessage();
        _inflated?.Dispose();
        _inflated = null;
        _inflater?.Dispose();
        _messageInflater?.Dispose();
        _messageInflater = null;
        _deflater?.Dispose();
        _fragmentDeflater?.Dispose();
        _compressedOut?.Dispose();
        _compressedOut = null;
    }
}
