using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex;

/// <summary>
/// One WebSocket connection over a duplex pipe, for either role. A read loop runs from the start to
/// the end of the connection, so pings, pongs and close frames are handled whether or not the
/// application is reading; data messages queue for <see cref="ReadMessagesAsync"/> (bounded, see
/// <see cref="WebSocketConnectionOptions.ReceiveQueueCapacity"/>). Sends are safe from many threads at
/// once: each message goes out whole, never interleaved with another.
/// </summary>
public sealed partial class WebSocketConnection : IAsyncDisposable
{
    private static long s_nextId;

    private readonly IDuplexPipe _transport;
    private readonly WebSocketConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly FrameReader _frameReader;
    private readonly SendLock _sendLock = new();
    private readonly MessageInbox _inbox;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _controlBufferStorage;        // control frame payloads; most connections never see one
    private byte[] _controlBuffer => _controlBufferStorage ??= new byte[125];
    private readonly MaskKeySource? _maskKeys;
    private readonly Func<ValueTask>? _closeTransport;
    private List<PendingPing>? _pendingPingsStorage; // on the first ping: most connections only answer pings
    private List<PendingPing> _pendingPings => LazyInitializer.EnsureInitialized(ref _pendingPingsStorage, static () => []);

    private volatile int _state = (int)WebSocketState.Open;
    private bool _closeSent;      // guarded by _sendLock
    private WebSocketMessageWriter? _openWriter; // guarded by _sendLock: a fragmented message is on the wire
    private SemaphoreSlim? _writerGateStorage; // one fragmented message at a time; made by the first one
    private SemaphoreSlim _writerGate => LazyInitializer.EnsureInitialized(ref _writerGateStorage, static () => new SemaphoreSlim(1, 1));
    private bool _outputDone;     // guarded by _sendLock
    // Sends made while a read loop hands out a message (the application running inline) are flushed
    // together once that loop has handled the bytes it holds (FlushOrDeferAsync): a batch of echoes
    // goes out in one write, and a batch of broadcasts in one write per recipient.
    [ThreadStatic] private static WebSocketConnection? t_delivering; // whose delivery this thread is inside
    private bool _flushDeferred;    // guarded by _sendLock: bytes in the pipe wait for a read loop's flush
    private int _deferredBytes;     // guarded by _sendLock
    private List<WebSocketConnection>? _flushQueue; // read loop only: other connections this batch wrote to (pooled)
    private CloseStatus? _closeStatus;
    private string? _closeDescription;
    private long _pingCounter;

    // permessage-deflate, when negotiated: one compressor (used under the send lock) and one
    // decompressor (used by the read loop) per connection, each with native zlib state.
    private readonly MessageDeflater? _deflater;  // with context takeover: the connection's own
    private readonly int _sharedDeflaterWindowBits;  // without: a shared one of this window (DeflaterPool)
    private readonly MessageInflater? _inflater;
    private readonly PooledBufferWriter? _compressedOut;
    private readonly byte[]? _compressedIn;
    private PooledBufferWriter? _inflated;
    private bool _inflatedDone;                   // the compressed message ended; parts of it remain
    private Utf8Validator _inflatedUtf8;

    private readonly System.Threading.RateLimiting.TokenBucketRateLimiter? _messageBucket;
    private readonly System.Threading.RateLimiting.TokenBucketRateLimiter? _byteBucket;

    // Read loop state: the message being assembled.
    private bool _inFrame;
    private long _drainSkip;                      // payload left of the frame that failed the connection
    private int _inHand;                          // messages handed to the application and not yet handled
    private volatile bool _readerLeft;            // the application stopped reading messages
    private volatile bool _deliveryBlocked;       // the read loop waits for room in the inbox
    private long _lastReceived;                   // Stopwatch timestamp of the latest bytes from the peer
    private TaskCompletionSource? _consumerIdle;
    private ReadOnlySequence<byte> _unread;
    private byte[]? _messageBuffer;
    private int _messageLength;

    /// <summary>
    /// Starts a connection over <paramref name="transport"/>, after a completed opening handshake.
    /// </summary>
    /// <param name="transport">The bytes after the handshake: <see cref="IDuplexPipe.Input"/> from the peer,
    /// <see cref="IDuplexPipe.Output"/> to it. The connection reads from it at once and completes both
    /// pipes when it ends.</param>
    /// <param name="role">Which end this is: decides masking (RFC 6455 §5.1) and who closes TCP first (§7.1.1).</param>
    /// <param name="options">Limits and timeouts, copied for this connection; null for the defaults.</param>
    /// <param name="subprotocol">The subprotocol agreed in the handshake, or null (<see cref="Subprotocol"/>).</param>
    /// <param name="remoteEndPoint">The peer's address, or null when unknown (<see cref="RemoteEndPoint"/>).</param>
    /// <param name="logger">Where the connection logs (<see cref="DuplexLogEvents"/>); null logs nothing.</param>
    /// <param name="compression">The permessage-deflate parameters agreed in the handshake (RFC 7692), or
    /// null when none were: RSV1 then stays reserved and a frame with it set fails the connection.</param>
    /// <param name="closeTransport">Called once when the connection is over and the pipes are completed,
    /// to release what lies beneath them (a socket, a stream).</param>
    public WebSocketConnection(
        IDuplexPipe transport,
        WebSocketRole role,
        WebSocketConnectionOptions? options = null,
        string? subprotocol = null,
        EndPoint? remoteEndPoint = null,
        ILogger? logger = null,
        Func<ValueTask>? closeTransport = null,
        PerMessageDeflateParameters? compression = null)
        : this(new FrozenOptions(options?.Clone() ?? new WebSocketConnectionOptions()), transport, role, subprotocol, remoteEndPoint, logger, closeTransport, compression)
    {
    }

    /// <summary>Options nobody changes any more (a server endpoint's copy), shared by its connections instead of copied per connection.</summary>
    internal readonly record struct FrozenOptions(WebSocketConnectionOptions Value);

    internal WebSocketConnection(
        FrozenOptions options,
        IDuplexPipe transport,
        WebSocketRole role,
        string? subprotocol = null,
        EndPoint? remoteEndPoint = null,
        ILogger? logger = null,
        Func<ValueTask>? closeTransport = null,
        PerMessageDeflateParameters? compression = null)
    {
        _transport = transport;
        Role = role;
        _options = options.Value;
        _logger = logger ?? NullLogger.Instance;
        Subprotocol = subprotocol;
        RemoteEndPoint = remoteEndPoint;
        _closeTransport = closeTransport;
        Id = Interlocked.Increment(ref s_nextId);
        _frameReader = new FrameReader(_options.ReaderOptions(role, compression is null ? (byte)0 : FrameHeader.Rsv1));
        if (compression is not null)
        {
            Compression = compression;
            // Without context takeover on our side, a shared compressor does (DeflaterPool).
            if (compression.SenderResetsContext(role)) _sharedDeflaterWindowBits = compression.SenderWindowBits(role);
            else _deflater = MessageDeflater.Create(compression, role, _options.Compression.CompressionLevel);
            _inflater = MessageInflater.Create(compression, role);
            _compressedOut = new PooledBufferWriter(1024);
            _compressedIn = new byte[16 * 1024];
        }
        // A waiting application runs on the read loop's thread when a message arrives, instead of
        // being queued to the thread pool: one hop less per message, as when the application reads
        // the socket itself. The read loop's state is settled before each delivery (DeliverAsync).
        _inbox = new MessageInbox(_options.ReceiveQueueCapacity);
        if (role == WebSocketRole.Client) _maskKeys = new MaskKeySource();
        if (_options.ReceiveRateLimit.IsSet)
        {
            _messageBucket = ReceiveRateLimit.Bucket(_options.ReceiveRateLimit.MessagesPerSecond);
            _byteBucket = ReceiveRateLimit.Bucket(_options.ReceiveRateLimit.BytesPerSecond);
        }
        DuplexMetrics.ConnectionsOpened.Add(1);
        DuplexMetrics.HandshakesAccepted.Add(1, new KeyValuePair<string, object?>("role", role == WebSocketRole.Server ? "server" : "client"));
        DuplexMetrics.ActiveConnections.Add(1);
        _lastReceived = Stopwatch.GetTimestamp();
        if (_options.KeepAliveInterval > TimeSpan.Zero)
        {
            _heartbeat = HeartbeatScheduler.For(_options.KeepAliveInterval, _options.KeepAliveTimeout);
            _heartbeat.Add(this);
        }
        // Last, once everything is set: the loop runs on this thread up to its first read that has to
        // wait (bytes that came with the handshake are handled at once; the application reads them
        // from the inbox). No hop to the thread pool per connection.
        _ = ReadLoopAsync();
    }

    /// <summary>A process-wide number for logs.</summary>
    public long Id { get; }

    /// <summary>Which end of the connection this is; server frames are unmasked, client frames masked (RFC 6455 §5.1).</summary>
    public WebSocketRole Role { get; }

    /// <summary>Where the connection is in its life; <see cref="WebSocketState.Closed"/> or <see cref="WebSocketState.Aborted"/> once over.</summary>
    public WebSocketState State => (WebSocketState)_state;

    /// <summary>
    /// How the connection ended: the code of the peer's close frame (1005 if it had none), the code this
    /// side failed the connection with, or 1006 when it ended without a close frame. Null while open.
    /// </summary>
    public CloseStatus? CloseStatus => _closeStatus;

    /// <summary>
    /// The reason that came with <see cref="CloseStatus"/>: the one in the peer's close frame (empty if it
    /// had none), or the one this side failed the connection with. Null while open and when the
    /// connection ended without one.
    /// </summary>
    public string? CloseStatusDescription => _closeDescription;

    /// <summary>The subprotocol both sides agreed on in the handshake, or null.</summary>
    public string? Subprotocol { get; }

    /// <summary>The peer's address as the transport reported it, or null when unknown.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The permessage-deflate parameters agreed in the handshake, or null when not compressing.</summary>
    public PerMessageDeflateParameters? Compression { get; }

    /// <summary>Who is on the other end, as the handshake's authentication established it.</summary>
    public ClaimsPrincipal? User { get; set; }

    /// <summary>The application's own per-connection state.</summary>
    public IDictionary<string, object?> Items => _items ??= new Dictionary<string, object?>();

    private Dictionary<string, object?>? _items; // most connections never use it: allocated on first use

    /// <summary>Completes when the connection is over and its transport released. Never faults.</summary>
    public Task Completion => _completion.Task;


    // ───────────────────────────── receiving ─────────────────────────────

    /// <summary>
    /// The messages the peer sends, in order, until the connection closes (then the sequence ends;
    /// see <see cref="CloseStatus"/>). Each message's buffer is reused once the next one is requested.
    /// </summary>
    public IAsyncEnumerable<WebSocketMessage> ReadMessagesAsync(CancellationToken cancellationToken = default) =>
        new MessageReader(this, cancellationToken);

    /// <summary>
    /// The application's side of the inbox, written out instead of an async iterator: one small object
    /// per reading application instead of the iterator and its box (which an idle connection keeps),
    /// and a message goes from the read loop to a waiting application with no iterator step between.
    /// </summary>
    private sealed class MessageReader(WebSocketConnection connection, CancellationToken token)
        : IAsyncEnumerable<WebSocketMessage>, IAsyncEnumerator<WebSocketMessage>
    {
        private CancellationToken _token = token;
        private CancellationTokenSource? _linked;
        private int _state; // 0 not enumerated yet, 1 enumerating, 2 disposed

        public IAsyncEnumerator<WebSocketMessage> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            var reader = Interlocked.CompareExchange(ref _state, 1, 0) == 0 ? this : new MessageReader(connection, _token) { _state = 1 };
            if (cancellationToken.CanBeCanceled && cancellationToken != reader._token)
            {
                if (!reader._token.CanBeCanceled) reader._token = cancellationToken;
                else
                {
                    reader._linked = CancellationTokenSource.CreateLinkedTokenSource(reader._token, cancellationToken);
                    reader._token = reader._linked.Token;
                }
            }
            connection._readerLeft = false;
            return reader;
        }

        public WebSocketMessage Current => connection._inbox.Taken;

        public ValueTask<bool> MoveNextAsync()
        {
            // Asking for the next message means the last one is handled: its buffer goes back.
            connection.ReleaseTaken();
            return _state == 2 ? new ValueTask<bool>(false) : connection._inbox.ReadAsync(_token);
        }

        public ValueTask DisposeAsync()
        {
            if (_state == 2) return default;
            _state = 2;
            connection.ReleaseTaken();
            _linked?.Dispose();
            // Nobody is reading any more: waiting for replies to queued messages would be in vain.
            connection._readerLeft = true;
            Volatile.Read(ref connection._consumerIdle)?.TrySetResult();
            return default;
        }
    }

    private void ReleaseTaken()
    {
        if (!_inbox.TryReleaseTaken(out var message)) return;
        message.Return();
        if (Interlocked.Decrement(ref _inHand) == 0) Volatile.Read(ref _consumerIdle)?.TrySetResult();
    }

    /// <summary>
    /// Before this side sends its close frame, gives the application a moment to finish with the
    /// messages it was handed — so replies to messages that arrived before a close, or before the
    /// frame that fails the connection, still go out. Bounded: a slow application does not hold up
    /// the close for long.
    /// </summary>
    private async ValueTask WaitForConsumerAsync()
    {
        if (Volatile.Read(ref _inHand) == 0 || _readerLeft || _closeSent) return;
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _consumerIdle, idle);
        if (Volatile.Read(ref _inHand) == 0 || _readerLeft) return;
        try
        {
            await idle.Task.WaitAsync(ConsumerGrace, _lifetime.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private static readonly TimeSpan ConsumerGrace = TimeSpan.FromSeconds(1);

    private enum ReadMode { Frames, Draining, AwaitingEof, Done }

    private async Task ReadLoopAsync()
    {
        var input = _transport.Input;
        var token = _lifetime.Token;
        var mode = ReadMode.Frames;
        try
        {
            while (mode != ReadMode.Done)
            {
                // No token: a registration per connection costs memory while it idles. An ending
                // connection stops this read with CancelPendingRead instead (StartCloseTimer, Abort).
                var result = await input.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled) break;
                var buffer = result.Buffer;
                _lastReceived = Stopwatch.GetTimestamp();
                _unread = buffer;
                try
                {
                    mode = await ProcessAsync(buffer, mode, token).ConfigureAwait(false);
                }
                finally
                {
                    DuplexMetrics.BytesReceived.Add(buffer.Length - _unread.Length);
                    input.AdvanceTo(_unread.Start, buffer.End);
                }
                // The batch is handled: what the application sent inline goes out, one write per connection.
                if (_flushDeferred || _flushQueue is not null) await FlushBatchAsync().ConfigureAwait(false);
                if (result.IsCompleted) break;
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // A close timeout or Abort(): the connection ends below.
        }
        catch (Exception ex)
        {
            // The transport failed (connection reset, TLS error): that is how the peer went away.
            _logger.LogDebug(DuplexLogEvents.TransportError, ex, "WebSocket {Id}: transport error", Id);
        }
        finally
        {
            FlushOthers();
            await FinishAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Handles what <paramref name="buffer"/> holds, keeping <see cref="_unread"/> at what is left (also
    /// when it throws), and returns the mode to read on in.
    /// </summary>
    private async ValueTask<ReadMode> ProcessAsync(ReadOnlySequence<byte> buffer, ReadMode mode, CancellationToken token)
    {
        // After the close handshake (and after failing the connection) we are only waiting for the
        // end: once it is there, the server closes TCP and the client waits for the server to
        // (RFC 6455 §7.1.1).
        ReadMode Closed() => Role == WebSocketRole.Client ? ReadMode.AwaitingEof : ReadMode.Done;
        while (true)
        {
            switch (mode)
            {
                case ReadMode.AwaitingEof:
                    // RFC 6455 §5.5.1: nothing is read after the close handshake.
                    _unread = buffer.Slice(buffer.End);
                    return mode;
                case ReadMode.Draining:
                    if (_drainSkip > 0 && LooksLikeCloseFrame(buffer))
                    {
                        // Some peers (Autobahn's fuzzer among them) answer our close at once, in the
                        // middle of the frame they were sending; we are failing the connection anyway.
                        _drainSkip = 0;
                    }
                    if (_drainSkip > 0)
                    {
                        // The rest of the frame that failed: payload, not headers.
                        long skip = Math.Min(_drainSkip, buffer.Length);
                        buffer = buffer.Slice(skip);
                        _drainSkip -= skip;
                        _unread = buffer;
                        if (_drainSkip > 0) return mode;
                    }
                    var seen = DrainUntilClose(ref buffer);
                    _unread = buffer;
                    if (seen == DrainResult.NeedMore) return mode;
                    return seen == DrainResult.CloseSeen ? Closed() : ReadMode.Done;
            }
            var step = Parse(ref buffer, out var error);
            _unread = buffer;
            // These wait for this connection's send lock: what other connections were sent meanwhile goes out first.
            if (step is Step.Ping or Step.Close or Step.Error) FlushOthers();
            switch (step)
            {
                case Step.NeedMore:
                    return mode;
                case Step.Message:
                    if (_messageBucket is not null || _byteBucket is not null)
                    {
                        var limited = await ChargeRateLimitAsync(token).ConfigureAwait(false);
                        if (limited is ProtocolError overLimit)
                        {
                            DropAssembledMessage();
                            FlushOthers();
                            await FailAsync(overLimit).ConfigureAwait(false);
                            mode = ReadMode.Draining;
                            break;
                        }
                    }
                    await DeliverAsync(endOfMessage: true, token).ConfigureAwait(false);
                    break;
                case Step.Chunk:
                    await DeliverAsync(endOfMessage: false, token).ConfigureAwait(false);
                    break;
                case Step.Ping:
                    await SendPongAsync(token).ConfigureAwait(false);
                    break;
                case Step.Pong:
                    CompletePings(_controlBuffer.AsSpan(0, (int)_frameReader.Current.PayloadLength));
                    break;
                case Step.Close:
                    await HandleCloseFrameAsync().ConfigureAwait(false);
                    return Closed();
                case Step.Error:
                    _drainSkip = _inFrame ? _frameReader.RemainingInFrame : 0;
                    _inFrame = false;
                    await FailAsync(error).ConfigureAwait(false);
                    mode = ReadMode.Draining;
                    break;
            }
        }
    }

    private enum Step { NeedMore, Message, Chunk, Ping, Pong, Close, Error }

    private enum DrainResult { NeedMore, CloseSeen, Garbage }

    /// <summary>Consumes frames from <paramref name="buffer"/> until something needs the loop's attention.</summary>
    private Step Parse(ref ReadOnlySequence<byte> buffer, out ProtocolError error)
    {
        error = default;
        Span<byte> joined = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            // A compressed message that inflated to more than one part still has parts to hand out.
            if (_inflatedDone) return EmitInflatedPart();
            if (!_inFrame)
            {
                if (buffer.Length < 2) return Step.NeedMore;
                scoped ReadOnlySpan<byte> head = buffer.FirstSpan;
                if (head.Length < FrameHeader.MaxLength && buffer.Length > head.Length)
                {
                    int n = (int)Math.Min(FrameHeader.MaxLength, buffer.Length);
                    buffer.Slice(0, n).CopyTo(joined);
                    head = joined.Slice(0, n);
                }
                var status = _frameReader.TryReadHeader(head, out var header, out error);
                if (status == FrameReadStatus.NeedMoreData) return Step.NeedMore;
                if (status == FrameReadStatus.Error) return Step.Error;
                buffer = buffer.Slice(header.HeaderLength);
                _inFrame = true;
            }

            var frame = _frameReader.Current;
            if (frame.Opcode.IsControl())
            {
                int length = (int)frame.PayloadLength;
                if (buffer.Length < length) return Step.NeedMore;
                var payload = _controlBuffer.AsSpan(0, length);
                buffer.Slice(0, length).CopyTo(payload);
                buffer = buffer.Slice(length);
                _frameReader.ProcessPayload(payload, out _);
                _inFrame = false;
                return frame.Opcode switch
                {
                    Opcode.Ping => Step.Ping,
                    Opcode.Pong => Step.Pong,
                    _ => Step.Close,
                };
            }

            long remaining = _frameReader.RemainingInFrame;
            if (remaining > 0 && _frameReader.MessageCompressed)
            {
                if (buffer.IsEmpty) return Step.NeedMore;
                if (!InflateChunk(ref buffer, out error)) return Step.Error;
                if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount >= part) return EmitInflatedPart();
                if (_frameReader.RemainingInFrame > 0) continue;
            }
            else if (remaining > 0)
            {
                if (buffer.IsEmpty) return Step.NeedMore;
                int n = (int)Math.Min(remaining, buffer.Length);
                if (_options.ReceiveChunkSize is int chunk) n = Math.Min(n, chunk - _messageLength);
                var destination = ReserveMessageSpace(n);
                buffer.Slice(0, n).CopyTo(destination);
                buffer = buffer.Slice(n);
                _messageLength += n;
                if (!_frameReader.ProcessPayload(destination, out error)) return Step.Error;
                if (_messageLength == _options.ReceiveChunkSize && !(_frameReader.RemainingInFrame == 0 && frame.Fin)) return Step.Chunk;
                if (_frameReader.RemainingInFrame > 0) return Step.NeedMore;
            }
            _inFrame = false;
            if (_frameReader.CompleteDataFrame(out var endError))
            {
                if (endError is ProtocolError e)
                {
                    error = e;
                    return Step.Error;
                }
                if (_frameReader.MessageCompressed)
                {
                    if (!FinishInflating(out error)) return Step.Error;
                    if (_inflatedDone) return EmitInflatedPart();
                }
                return Step.Message;
            }
        }
    }

    /// <summary>
    /// Unmasks the next piece of a compressed frame into a scratch buffer and inflates it, bounded by
    /// the message size limit (a decompression bomb stops at the limit: 1009), validating text as it
    /// comes out (RFC 7692 §8: UTF-8 applies to the decompressed data).
    /// </summary>
    private bool InflateChunk(ref ReadOnlySequence<byte> buffer, out ProtocolError error)
    {
        int n = (int)Math.Min(Math.Min(_frameReader.RemainingInFrame, buffer.Length), _compressedIn!.Length);
        var chunk = _compressedIn.AsSpan(0, n);
        buffer.Slice(0, n).CopyTo(chunk);
        buffer = buffer.Slice(n);
        _frameReader.ProcessPayload(chunk, out _);
        return Inflate(chunk, endOfMessage: false, out error);
    }

    private bool FinishInflating(out ProtocolError error)
    {
        // RFC 7692 §7.2.2: the 00 00 FF FF the sender stripped is put back at the end of the message.
        if (!Inflate(ReadOnlySpan<byte>.Empty, endOfMessage: true, out error)) return false;
        if (_frameReader.MessageOpcode == Opcode.Text && !_inflatedUtf8.IsComplete)
        {
            error = new(Protocol.CloseStatus.InvalidPayloadData, "text message ends inside a UTF-8 sequence");
            return false;
        }
        _inflatedUtf8.Reset();
        if (_options.ReceiveChunkSize is int part && _inflated!.WrittenCount > part)
        {
            _inflatedDone = true;
            return true;
        }
        _messageBuffer = _inflated!.DetachBuffer(out _messageLength);
        _inflated = null;
        return true;
    }

    /// <summary>
    /// Hands out the next <see cref="WebSocketConnectionOptions.ReceiveChunkSize"/> bytes of inflated
    /// output as a part of the message (the last part when the message is done and nothing is left).
    /// </summary>
    private Step EmitInflatedPart()
    {
        var written = _inflated!.WrittenSpan;
        int n = Math.Min(_options.ReceiveChunkSize ?? int.MaxValue, written.Length);
        if (_inflatedDone && n == written.Length)
        {
            _messageBuffer = _inflated.DetachBuffer(out _messageLength);
            _inflated = null;
            _inflatedDone = false;
            return Step.Message;
        }
        var part = ArrayPool<byte>.Shared.Rent(n);
        written.Slice(0, n).CopyTo(part);
        _messageBuffer = part;
        _messageLength = n;
        var rest = new PooledBufferWriter(Math.Max(1024, written.Length - n)) { MaxCapacity = _inflated.MaxCapacity };
        written.Slice(n).CopyTo(rest.GetSpan(written.Length - n));
        rest.Advance(written.Length - n);
        _inflated.Dispose();
        _inflated = rest;
        return Step.Chunk;
    }

    private bool Inflate(ReadOnlySpan<byte> compressed, bool endOfMessage, out ProtocolError error)
    {
        _inflated ??= new PooledBufferWriter(1024) { MaxCapacity = (int)Math.Min(int.MaxValue - 64, _options.MaxMessageSize + 1) };
        int before = _inflated.WrittenCount;
        if (_inflater!.Inflate(compressed, endOfMessage, _options.MaxMessageSize, _inflated, out error) != InflateStatus.Done) return false;
        if (_frameReader.MessageOpcode == Opcode.Text && !_inflatedUtf8.Feed(_inflated.WrittenSpan.Slice(before)))
        {
            error = new(Protocol.CloseStatus.InvalidPayloadData, "invalid UTF-8 in text message");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Takes a message's tokens from the rate limit buckets. Over the limit, either fails the
    /// connection (1008) or waits for tokens — the read loop stops meanwhile, so TCP slows the peer.
    /// </summary>
    private async ValueTask<ProtocolError?> ChargeRateLimitAsync(CancellationToken token)
    {
        if (_messageBucket is not null && await ChargeAsync(_messageBucket, 1, _options.ReceiveRateLimit.MessagesPerSecond!.Value, token).ConfigureAwait(false) is { } e1)
            return e1;
        if (_byteBucket is not null && _messageLength > 0 &&
            await ChargeAsync(_byteBucket, _messageLength, _options.ReceiveRateLimit.BytesPerSecond!.Value, token).ConfigureAwait(false) is { } e2)
            return e2;
        return null;
    }

    private async ValueTask<ProtocolError?> ChargeAsync(System.Threading.RateLimiting.TokenBucketRateLimiter bucket, int cost, int limit, CancellationToken token)
    {
        // A message larger than a whole second's budget costs the whole budget.
        int permits = Math.Min(cost, limit);
        using (var lease = bucket.AttemptAcquire(permits))
        {
            if (lease.IsAcquired) return null;
        }
        var policy = _options.ReceiveRateLimit.Policy;
        DuplexMetrics.RateLimited.Add(1, new KeyValuePair<string, object?>("policy", policy.ToString()));
        if (policy == RateLimitPolicy.Close)
            return new ProtocolError(Protocol.CloseStatus.PolicyViolation, "receive rate limit exceeded");
        await FlushBatchAsync().ConfigureAwait(false);
        using var waited = await bucket.AcquireAsync(permits, token).ConfigureAwait(false);
        return null;
    }

    private void DropAssembledMessage()
    {
        if (_messageBuffer is not null) ArrayPool<byte>.Shared.Return(_messageBuffer);
        _messageBuffer = null;
        _messageLength = 0;
    }

    private Span<byte> ReserveMessageSpace(int count)
    {
        int needed = _messageLength + count;
        if (_messageBuffer is null || _messageBuffer.Length < needed)
        {
            // Grow with the data that has arrived, not with what a header announces: a peer that
            // declares a huge frame and sends nothing must not make us allocate it. But a frame's
            // announced end is trusted up to 64 KiB, or up to twice what is held: a 16 KiB message
            // arriving in pieces then takes one buffer instead of three (and two copies less).
            long frameEnd = _messageLength + _frameReader.RemainingInFrame;
            long step = Math.Max(_messageBuffer is null ? 0 : (long)_messageBuffer.Length * 2, 64 * 1024);
            long cap = _options.ReceiveChunkSize is int chunk ? Math.Min(chunk, _options.MaxMessageSize) : _options.MaxMessageSize;
            int size = (int)Math.Max(needed, Math.Min(Math.Min(frameEnd, step), cap));
            var bigger = ArrayPool<byte>.Shared.Rent(size);
            if (_messageBuffer is not null)
            {
                _messageBuffer.AsSpan(0, _messageLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_messageBuffer);
            }
            _messageBuffer = bigger;
        }
        return _messageBuffer.AsSpan(_messageLength, count);
    }

    private ValueTask DeliverAsync(bool endOfMessage, CancellationToken token)
    {
        var type = _frameReader.MessageOpcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        var message = new WebSocketMessage(type, _messageBuffer, _messageLength, endOfMessage);
        _messageBuffer = null;
        _messageLength = 0;
        if (endOfMessage) DuplexMetrics.MessagesReceived.Add(1);
        Interlocked.Increment(ref _inHand);
        // A waiting application runs inside TryWrite (synchronous continuations): what it sends
        // meanwhile may wait for the flush at the end of this batch.
        var outer = t_delivering;
        t_delivering = this;
        bool delivered;
        try
        {
            delivered = _inbox.TryWrite(message);
        }
        finally
        {
            t_delivering = outer;
        }
        if (delivered) return ValueTask.CompletedTask;
        return DeliverWhenRoomAsync(message, token);
    }

    private async ValueTask DeliverWhenRoomAsync(WebSocketMessage message, CancellationToken token)
    {
        // The application is behind: reading stops here and TCP pushes back on the peer. A peer whose
        // data waits for us is alive, whatever the heartbeat sees (see HeartbeatAsync).
        _deliveryBlocked = true;
        try
        {
            await FlushBatchAsync().ConfigureAwait(false);
            while (!_inbox.TryWrite(message))
            {
                if (!await _inbox.WaitForRoomAsync(token).ConfigureAwait(false))
                {
                    // Only the ending read loop completes the inbox; nobody will read this one.
                    message.Return();
                    Interlocked.Decrement(ref _inHand);
                    return;
                }
            }
        }
        finally
        {
            _deliveryBlocked = false;
            _lastReceived = Stopwatch.GetTimestamp();
        }
    }

    // ───────────────────────────── heartbeat ─────────────────────────────

    /// <summary>The round-trip time of the latest answered ping (heartbeat or <see cref="PingAsync"/>).</summary>
    public TimeSpan? LastRoundTripTime { get; private set; }

    private readonly HeartbeatScheduler? _heartbeat;
    private long _heartbeatPingSentAt; // Stopwatch timestamp of the unanswered keep-alive ping, or 0

    /// <summary>
    /// The keep-alive, called on every tick of the shared <see cref="HeartbeatScheduler"/>: pings a peer
    /// silent for <see cref="WebSocketConnectionOptions.KeepAliveInterval"/>, and drops one that then
    /// stays silent for <see cref="WebSocketConnectionOptions.KeepAliveTimeout"/>. Anything at all from
    /// the peer counts as a sign of life, and so does data waiting for the application (a blocked read
    /// loop cannot see the pong).
    /// </summary>
    internal void HeartbeatTick(long now)
    {
        if (_state != (int)WebSocketState.Open) return;
        long sentAt = Volatile.Read(ref _heartbeatPingSentAt);
        if (sentAt != 0)
        {
            if (_deliveryBlocked || Volatile.Read(ref _lastReceived) > sentAt)
            {
                Volatile.Write(ref _heartbeatPingSentAt, 0);
            }
            else if (Stopwatch.GetElapsedTime(sentAt, now) >= _options.KeepAliveTimeout)
            {
                DuplexMetrics.HeartbeatTimeouts.Add(1);
                _logger.LogInformation(DuplexLogEvents.KeepAliveTimeout, "WebSocket {Id}: no answer {Timeout} after a keep-alive ping; dropping the connection", Id, _options.KeepAliveTimeout);
                _closeDescription ??= "keep-alive timeout";
                Abort();
            }
            return;
        }
        if (_deliveryBlocked || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived), now) < _options.KeepAliveInterval) return;
        Volatile.Write(ref _heartbeatPingSentAt, now);
        _ = SendKeepAlivePingAsync();
    }

    private async Task SendKeepAlivePingAsync()
    {
        try
        {
            // The round trip is recorded (LastRoundTripTime) when the pong comes; the tick judges silence.
            await PingAsync(default, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException or InvalidOperationException)
        {
        }
    }

    private bool LooksLikeCloseFrame(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 2) return false;
        Span<byte> head = stackalloc byte[2];
        buffer.Slice(0, 2).CopyTo(head);
        bool masked = (head[1] & 0x80) != 0;
        return head[0] == 0x88 && masked == (Role == WebSocketRole.Server) && (head[1] & 0x7F) <= 125;
    }

    /// <summary>After failing the connection: skip frames until the peer's close frame arrives.</summary>
    private static DrainResult DrainUntilClose(ref ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[FrameHeader.MaxLength];
        while (true)
        {
            int n = (int)Math.Min(FrameHeader.MaxLength, buffer.Length);
            buffer.Slice(0, n).CopyTo(head);
            if (!FrameHeader.TryParse(head.Slice(0, n), out var h)) return DrainResult.NeedMore;
            if (h.PayloadLength < 0 || h.PayloadLength > 1 << 20) return DrainResult.Garbage;
            long total = h.HeaderLength + h.PayloadLength;
            if (buffer.Length < total) return DrainResult.NeedMore;
            buffer = buffer.Slice(total);
            if (h.Opcode == Opcode.Close) return DrainResult.CloseSeen;
        }
    }

    /// <summary>Handles the peer's close frame: answers it, or fails the connection if its payload is invalid.</summary>
    private async ValueTask HandleCloseFrameAsync()
    {
        int length = (int)_frameReader.Current.PayloadLength;
        if (!FrameReader.TryParseClosePayload(_controlBuffer.AsSpan(0, length), out var status, out var reason, out var error))
        {
            // The peer already closed; nothing more will come but TCP's end.
            await FailAsync(error).ConfigureAwait(false);
            return;
        }
        _closeStatus ??= status ?? Protocol.CloseStatus.NoStatusReceived;
        _closeDescription ??= reason;
        SetState(WebSocketState.CloseReceived);
        // The answer can queue behind a send stuck on a peer that stopped reading: the close
        // handshake is bounded by CloseTimeout here as everywhere, or the connection never ends.
        StartCloseTimer();
        await WaitForConsumerAsync().ConfigureAwait(false);
        // RFC 6455 §5.5.1: answer with a close frame, echoing the status code received.
        await SendCloseFrameAsync(status, null, _lifetime.Token).ConfigureAwait(false);
        SetState(WebSocketState.Closed);
        if (Role == WebSocketRole.Client)
        {
            // RFC 6455 §7.1.1: the server closes TCP first; wait for it, but not forever.
            StartCloseTimer();
        }
    }

    private async ValueTask FailAsync(ProtocolError error)
    {
        _closeStatus ??= error.Status;
        _closeDescription ??= error.Reason;
        DuplexMetrics.ProtocolErrors.Add(1, new KeyValuePair<string, object?>("code", (int)error.Status));
        _logger.LogInformation(DuplexLogEvents.ProtocolError, "WebSocket {Id}: failing connection with {Code}: {Reason}", Id, (int)error.Status, error.Reason);
        StartCloseTimer();
        try
        {
            await WaitForConsumerAsync().ConfigureAwait(false);
            await SendCloseFrameAsync(error.Status, error.Reason, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException or IOException)
        {
        }
        SetState(WebSocketState.Closed);
    }

    private async Task FinishAsync()
    {
        if (_state < (int)WebSocketState.Closed)
        {
            // The close handshake did not finish: the peer vanished, or never answered our close.
            _closeStatus ??= Protocol.CloseStatus.AbnormalClosure;
            SetState(WebSocketState.Aborted);
        }
        _inbox.Complete();
        if (_messageBuffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_messageBuffer);
            _messageBuffer = null;
        }
        _inflated?.Dispose();
        _inflater?.Dispose();
        _messageBucket?.Dispose();
        _byteBucket?.Dispose();
        FailPendingPings();

        // Wake a sender stuck on a peer that stopped reading, then take the lock so no one is
        // writing while the output is completed.
        _transport.Output.CancelPendingFlush();
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _outputDone = true;
            _deflater?.Dispose();
            _compressedOut?.Dispose();
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(DuplexLogEvents.TransportRelease, ex, "WebSocket {Id}: completing output", Id);
        }
        finally
        {
            _sendLock.Release();
        }
        try
        {
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            if (_closeTransport is not null) await _closeTransport().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(DuplexLogEvents.TransportRelease, ex, "WebSocket {Id}: releasing transport", Id);
        }
        _heartbeat?.Remove(this);
        DuplexMetrics.ActiveConnections.Add(-1);
        DuplexMetrics.ConnectionsClosed.Add(1, new KeyValuePair<string, object?>("code", (int)(_closeStatus ?? Protocol.CloseStatus.AbnormalClosure)));
        // Ends the heartbeat and any pending close timer now, so a finished connection is not kept
        // reachable for a close timeout by its own timers (measured: memory growth under handshake load).
        try
        {
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        _completion.TrySetResult();
    }

    private int _readStopArmed;

    /// <summary>
    /// Bounds the close handshake: after <see cref="WebSocketConnectionOptions.CloseTimeout"/> the
    /// lifetime ends, which also stops the read loop's pending read, and a flush stuck on a peer that
    /// does not read (the read loop may be in one, flushing what was sent during its deliveries).
    /// </summary>
    private void StartCloseTimer()
    {
        if (Interlocked.Exchange(ref _readStopArmed, 1) == 0)
            _lifetime.Token.UnsafeRegister(static state => ((WebSocketConnection)state!).StopReading(), this);
        _lifetime.CancelAfter(_options.CloseTimeout);
    }

    private void StopReading()
    {
        try
        {
            _transport.Input.CancelPendingRead();
            _transport.Output.CancelPendingFlush();
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            // The read loop is over and the pipe released.
        }
    }

    private void SetState(WebSocketState state)
    {
        // States only move forward; Closed and Aborted are final.
        while (true)
        {
            int current = _state;
            if (current >= (int)WebSocketState.Closed || current >= (int)state) return;
            if (Interlocked.CompareExchange(ref _state, (int)state, current) == current) return;
        }
    }

    // ───────────────────────────── sending ─────────────────────────────

    /// <summary>Sends a text message. Lone surrogates become U+FFFD, so the wire is always valid UTF-8.</summary>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        int count = Encoding.UTF8.GetByteCount(text);
        if (count <= StackEncodeLimit && !WillCompress(count))
        {
            return SendEncodedTextAsync(text, count, cancellationToken);
        }
        return SendPooledTextAsync(text, count, cancellationToken);
    }

    private const int StackEncodeLimit = 16 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendEncodedTextAsync(string text, int count, CancellationToken cancellationToken)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            // Encode straight into the pipe: no intermediate buffer for small and medium messages.
            var output = _transport.Output;
            uint? key = _maskKeys?.Next();
            int headerLength = FrameHeader.GetLength(count, key.HasValue);
            var span = output.GetSpan(headerLength + count);
            FrameHeader.Write(span, true, 0, Opcode.Text, count, key);
            var body = span.Slice(headerLength, count);
            Encoding.UTF8.GetBytes(text, body);
            if (key is uint k) Masking.Apply(body, k, 0);
            output.Advance(headerLength + count);
            await FlushOrDeferAsync(headerLength + count, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async ValueTask SendPooledTextAsync(string text, int count, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(count);
        try
        {
            Encoding.UTF8.GetBytes(text, buffer);
            await SendFrameAsync(Opcode.Text, buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends a text message from UTF-8 bytes, which must be valid UTF-8 (checked).</summary>
    public ValueTask SendTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken = default)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8.Span))
            throw new ArgumentException("Text messages must be valid UTF-8 (RFC 6455 §5.6).", nameof(utf8));
        return SendFrameAsync(Opcode.Text, utf8, cancellationToken);
    }

    /// <summary>
    /// Sends a binary message, compressed when permessage-deflate was agreed and it has at least
    /// <see cref="Protocol.Deflate.PerMessageDeflateOptions.MinMessageSizeToCompress"/> bytes. Throws
    /// <see cref="WebSocketClosedException"/> once this side's close frame has gone out or the connection is over.
    /// </summary>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendFrameAsync(Opcode.Binary, data, cancellationToken);

    /// <summary>Sends a message of the given type; text must be valid UTF-8.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken = default) =>
        type == WebSocketMessageType.Text ? SendTextAsync(data, cancellationToken) : SendBinaryAsync(data, cancellationToken);

    /// <summary>
    /// Sends a received message on (an echo, a relay), same type. Its text was validated when it
    /// arrived, so it is not validated again.
    /// </summary>
    public ValueTask SendAsync(in WebSocketMessage message, CancellationToken cancellationToken = default) =>
        SendFrameAsync(message.IsText ? Opcode.Text : Opcode.Binary, message.Data, cancellationToken);

    /// <summary>
    /// Sends a message encoded once for many connections (server role only: server frames are not
    /// masked, so the same bytes serve every recipient).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(PreparedMessage message, CancellationToken cancellationToken = default)
    {
        if (Role != WebSocketRole.Server) throw new InvalidOperationException("Prepared messages are unmasked frames: only a server may send them.");
        // Compressed once for all recipients that reset context per message; a recipient whose
        // context carries over between messages gets the plain frame (RFC 7692 lets a sender choose).
        var frame = _deflater is null && Compression is not null && message.PayloadLength >= _options.Compression.MinMessageSizeToCompress
            ? message.CompressedFrame(_sharedDeflaterWindowBits, _options.Compression.CompressionLevel)
            : message.Frame;
        int size = frame.Length;
        Interlocked.Add(ref _bufferedBytes, size);
        try
        {
            await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ThrowIfCannotSend();
                // The frame is immutable and shared by every recipient: a transport that can sends it from there.
                if (_transport.Output is IReferenceWriter byReference) byReference.WriteByReference(frame);
                else _transport.Output.Write(frame.Span);
                await FlushOrDeferAsync(size, cancellationToken).ConfigureAwait(false);
                DuplexMetrics.MessagesSent.Add(1);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        finally
        {
            Interlocked.Add(ref _bufferedBytes, -size);
        }
    }

    /// <summary>
    /// Bytes accepted for sending (by broadcasts, which do not wait) and not yet written to the
    /// socket. A peer that stops reading makes this grow until <see cref="WebSocketConnectionOptions.MaxBufferedBytes"/>.
    /// </summary>
    public long BufferedAmount => Volatile.Read(ref _bufferedBytes);

    private long _bufferedBytes;

    /// <summary>
    /// For broadcasts: sends without waiting when this connection keeps up; otherwise applies its
    /// <see cref="WebSocketConnectionOptions.SlowConsumerPolicy"/> and returns false. The returned task
    /// (when not null) completes when the message reaches the socket.
    /// </summary>
    public bool TrySendWithoutWaiting(PreparedMessage message, out ValueTask send)
    {
        send = default;
        if (_state != (int)WebSocketState.Open) return false;
        if (BufferedAmount + message.Frame.Length > _options.MaxBufferedBytes)
        {
            DuplexMetrics.SlowConsumers.Add(1, new KeyValuePair<string, object?>("policy", _options.SlowConsumerPolicy.ToString()));
            if (_options.SlowConsumerPolicy == SlowConsumerPolicy.Close && Interlocked.Exchange(ref _slowClosed, 1) == 0)
            {
                _logger.LogInformation(DuplexLogEvents.SlowConsumer, "WebSocket {Id}: {Buffered} bytes waiting for a peer that does not read; closing with 1013", Id, BufferedAmount);
                _ = CloseAsync(Protocol.CloseStatus.TryAgainLater, "too slow");
            }
            return false;
        }
        send = SendAsync(message);
        return true;
    }

    private int _slowClosed;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await AcquireForMessageAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            if (WillCompress(payload.Length))
            {
                // RFC 7692 §7.2.1: compress, drop the trailing 00 00 FF FF, set RSV1 on the (only) frame.
                _compressedOut!.Clear();
                if (_deflater is not null)
                {
                    _deflater.CompressMessage(payload.Span, _compressedOut);
                }
                else
                {
                    int level = _options.Compression.CompressionLevel;
                    var shared = DeflaterPool.Rent(_sharedDeflaterWindowBits, level);
                    shared.CompressMessage(payload.Span, _compressedOut); // on failure it is dropped, not returned
                    DeflaterPool.Return(shared, level);
                }
                DuplexMetrics.CompressionRatio.Record((double)_compressedOut.WrittenCount / payload.Length);
                FrameWriter.WriteFrame(_transport.Output, opcode, true, FrameHeader.Rsv1, _compressedOut.WrittenSpan, _maskKeys?.Next());
            }
            else
            {
                FrameWriter.WriteFrame(_transport.Output, opcode, true, 0, payload.Span, _maskKeys?.Next());
            }
            await FlushOrDeferAsync(payload.Length, cancellationToken).ConfigureAwait(false);
            DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private bool WillCompress(int length) => Compression is not null && length >= _options.Compression.MinMessageSizeToCompress;

    /// <summary>
    /// Takes the send lock for a data message. RFC 6455 §5.4: the frames of a fragmented message may
    /// only be interleaved with control frames, so while one is on the wire other messages wait.
    /// </summary>
    private ValueTask AcquireForMessageAsync(CancellationToken cancellationToken)
    {
        var wait = _sendLock.WaitAsync(cancellationToken);
        if (wait.IsCompletedSuccessfully && _openWriter is null) return ValueTask.CompletedTask;
        return AcquireSlowAsync(wait, cancellationToken);
    }

    private async ValueTask AcquireSlowAsync(Task wait, CancellationToken cancellationToken)
    {
        await wait.ConfigureAwait(false);
        while (_openWriter is not null)
        {
            _sendLock.Release();
            await _writerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            _writerGate.Release();
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts a message sent in fragments (RFC 6455 §5.4), for data produced over time or too large to
    /// hold: write its parts, then complete it. Other messages wait until it is complete; pings, pongs
    /// and close frames may go between its fragments.
    /// </summary>
    public async ValueTask<WebSocketMessageWriter> BeginMessageAsync(WebSocketMessageType type, CancellationToken cancellationToken = default)
    {
        await _writerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WebSocketMessageWriter(this, type);
    }

    internal async ValueTask WriteFragmentAsync(WebSocketMessageWriter writer, Opcode opcode, ReadOnlyMemory<byte> payload, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfCannotSend();
            _openWriter = endOfMessage ? null : writer;
            FrameWriter.WriteFrame(_transport.Output, opcode, endOfMessage, 0, payload.Span, _maskKeys?.Next());
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            if (endOfMessage) DuplexMetrics.MessagesSent.Add(1);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    internal void EndMessage()
    {
        _writerGate.Release();
    }

    private void ThrowIfCannotSend()
    {
        if (_closeSent || _outputDone || _state >= (int)WebSocketState.Closed)
            throw new WebSocketClosedException(State, _closeStatus, _closeDescription);
    }

    /// <summary>Flushes what was written; throws when the connection ended under the write.</summary>
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var result = await FlushCoreAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
            throw new WebSocketClosedException(State, _closeStatus, _closeDescription);
    }

    /// <summary>
    /// Under the send lock, after writing a message: flushes, unless the application is sending from
    /// inside a delivery on the read loop's thread — then the read loop flushes once it has handled the
    /// bytes it holds (a batch of requests gets its answers in one write). Bounded by <see cref="MaxDeferredBytes"/>.
    /// </summary>
    private ValueTask FlushOrDeferAsync(int bytes, CancellationToken cancellationToken)
    {
        var owner = t_delivering;
        if (owner is not null && _deferredBytes + bytes <= MaxDeferredBytes)
        {
            // Counted as buffered until flushed, so a broadcast still sees a recipient that falls behind.
            Interlocked.Add(ref _bufferedBytes, bytes);
            _deferredBytes += bytes;
            if (!_flushDeferred)
            {
                // Whoever marks it flushes it: this connection's read loop, or the delivering one's.
                _flushDeferred = true;
                if (owner != this) (owner._flushQueue ??= RentFlushList()).Add(this);
            }
            return ValueTask.CompletedTask;
        }
        return FlushAsync(cancellationToken);
    }

    private const int MaxDeferredBytes = 64 * 1024;

    /// <summary>
    /// The read loop's flush of what was sent inline during its deliveries (<see cref="FlushOrDeferAsync"/>),
    /// at the end of a batch and before anything it might wait on. Other connections are flushed without
    /// waiting (a slow recipient does not hold up this one's reading); this one's own flush is awaited, so
    /// a peer that does not read what it asked for is not read from either.
    /// </summary>
    private ValueTask FlushBatchAsync()
    {
        FlushOthers();
        return _flushDeferred ? FlushDeferredAsync() : ValueTask.CompletedTask;
    }

    private void FlushOthers()
    {
        if (_flushQueue is not { } others) return;
        _flushQueue = null;
        foreach (var connection in others)
        {
            var flush = connection.FlushDeferredAsync();
            if (flush.IsCompleted) flush.GetAwaiter().GetResult();
            else _ = flush.AsTask(); // it handles its own failures
        }
        ReturnFlushList(others);
    }

    // The lists of recipients a batch wrote to are shared through a small pool, not kept per connection:
    // in a room where everyone talks to 10,000 others, a list each would hold 80 KB per connection.
    private static readonly System.Collections.Concurrent.ConcurrentQueue<List<WebSocketConnection>> s_flushLists = new();

    private static List<WebSocketConnection> RentFlushList() => s_flushLists.TryDequeue(out var list) ? list : [];

    private static void ReturnFlushList(List<WebSocketConnection> list)
    {
        list.Clear();
        if (list.Capacity <= 1 << 16 && s_flushLists.Count < 4 * Environment.ProcessorCount) s_flushLists.Enqueue(list);
    }

    private async ValueTask FlushDeferredAsync()
    {
        if (!_flushDeferred) return;
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_flushDeferred && !_outputDone) await FlushCoreAsync(default).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The transport is gone under the write (Kestrel's abort is an OperationCanceledException):
            // the connection's read loop finds out.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Flushes the pipe (under the send lock), settling the bytes that waited for a deferred flush.</summary>
    private ValueTask<FlushResult> FlushCoreAsync(CancellationToken cancellationToken)
    {
        _flushDeferred = false;
        int deferred = _deferredBytes;
        _deferredBytes = 0;
        if (deferred > 0)
        {
            var flush = FlushPipeAsync(cancellationToken);
            if (!flush.IsCompleted) return SettleAsync(flush, deferred);
            Interlocked.Add(ref _bufferedBytes, -deferred);
            return flush;
        }
        return FlushPipeAsync(cancellationToken);
    }

    private async ValueTask<FlushResult> SettleAsync(ValueTask<FlushResult> flush, int deferred)
    {
        try
        {
            return await flush.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _bufferedBytes, -deferred);
        }
    }

    private ValueTask<FlushResult> FlushPipeAsync(CancellationToken cancellationToken)
    {
        if (_transport.Output.CanGetUnflushedBytes) DuplexMetrics.BytesSent.Add(_transport.Output.UnflushedBytes);
        return _transport.Output.FlushAsync(cancellationToken);
    }

    // RFC 6455 §5.5.2: answer a ping with a pong carrying the same data.
    private ValueTask SendPongAsync(CancellationToken token) =>
        SendControlFrameAsync(Opcode.Pong, _controlBuffer.AsMemory(0, (int)_frameReader.Current.PayloadLength), token);

    private ValueTask SendCloseFrameAsync(CloseStatus? status, string? reason, CancellationToken token)
    {
        var payload = new byte[status is null ? 0 : 2 + FrameWriter.MaxCloseReasonBytes];
        int length = status is CloseStatus s ? FrameWriter.WriteClosePayload(payload, s, TruncateReason(reason)) : 0;
        return SendControlFrameAsync(Opcode.Close, payload.AsMemory(0, length), token);
    }

    /// <summary>
    /// Writes one control frame under the send lock; it may go between the frames of a fragmented
    /// message (RFC 6455 §5.4). Nothing goes out after our close frame (§5.5.1): pongs and a second
    /// close are then skipped, and a ping fails as any send would.
    /// </summary>
    private async ValueTask SendControlFrameAsync(Opcode opcode, ReadOnlyMemory<byte> payload, CancellationToken token)
    {
        await _sendLock.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (opcode == Opcode.Ping) ThrowIfCannotSend();
            else if (_closeSent || _outputDone) return;
            if (opcode == Opcode.Close) _closeSent = true;
            FrameWriter.WriteFrame(_transport.Output, opcode, true, 0, payload.Span, _maskKeys?.Next());
            if (opcode == Opcode.Ping) await FlushAsync(token).ConfigureAwait(false);
            else await FlushCoreAsync(token).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Cuts a reason to the 123 bytes a close frame holds, on a character boundary.</summary>
    internal static string? TruncateReason(string? reason)
    {
        if (reason is null || Encoding.UTF8.GetByteCount(reason) <= FrameWriter.MaxCloseReasonBytes) return reason;
        int length = reason.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(reason.AsSpan(0, length)) > FrameWriter.MaxCloseReasonBytes) length--;
        if (length > 0 && char.IsHighSurrogate(reason[length - 1])) length--;
        return reason[..length];
    }

    // ───────────────────────────── closing ─────────────────────────────

    /// <summary>
    /// Starts the close handshake (RFC 6455 §7.1.2) and waits until it ends: the peer's close frame
    /// arrives and TCP is closed, or <see cref="WebSocketConnectionOptions.CloseTimeout"/> passes and the
    /// connection is dropped.
    /// </summary>
    public async Task CloseAsync(CloseStatus status = Protocol.CloseStatus.NormalClosure, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!CloseStatusRules.IsValidOnWire((int)status))
            throw new ArgumentOutOfRangeException(nameof(status), (int)status, "Only 1000–1003, 1007–1014 and 3000–4999 may be sent in a close frame.");
        if (reason is not null && Encoding.UTF8.GetByteCount(reason) > FrameWriter.MaxCloseReasonBytes)
            throw new ArgumentException("A close reason holds at most 123 UTF-8 bytes.", nameof(reason));
        if (_state >= (int)WebSocketState.Closed)
        {
            await Completion.ConfigureAwait(false);
            return;
        }
        SetState(WebSocketState.CloseSent);
        StartCloseTimer();
        try
        {
            await SendCloseFrameAsync(status, reason, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }
        await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops the connection at once, without a close handshake; <see cref="CloseStatus"/> becomes 1006.</summary>
    public void Abort()
    {
        _closeStatus ??= Protocol.CloseStatus.AbnormalClosure;
        SetState(WebSocketState.Aborted);
        // Cancelling can run the read loop's ending inline, which completes the pipes; a pipe that is
        // already complete may have disposed what its cancel uses. Either way the loop is ending.
        try
        {
            _transport.Output.CancelPendingFlush();
            _transport.Input.CancelPendingRead();
            _lifetime.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes with 1000 if still open (bounded by the close timeout), then waits for the end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_state < (int)WebSocketState.Closed)
        {
            try
            {
                await CloseAsync(Protocol.CloseStatus.NormalClosure).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketClosedException or OperationCanceledException or IOException)
            {
            }
        }
        await Completion.ConfigureAwait(false);
    }

    // ───────────────────────────── ping ─────────────────────────────

    private sealed record PendingPing(byte[] Payload, long Timestamp, TaskCompletionSource<TimeSpan> Pong);

    /// <summary>
    /// Sends a ping and waits for its pong (RFC 6455 §5.5.2); returns the round-trip time. A pong
    /// answering a later ping also answers this one (§5.5.3 lets a peer answer only the latest).
    /// </summary>
    public async Task<TimeSpan> PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > 125) throw new ArgumentException("A ping carries at most 125 bytes.", nameof(payload));
        byte[] data = payload.IsEmpty
            ? BitConverter.GetBytes(Interlocked.Increment(ref _pingCounter))
            : payload.ToArray();
        var pending = new PendingPing(data, Stopwatch.GetTimestamp(), new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_pendingPings) _pendingPings.Add(pending);
        try
        {
            await SendControlFrameAsync(Opcode.Ping, data, cancellationToken).ConfigureAwait(false);
            return await pending.Pong.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_pendingPings) _pendingPings.Remove(pending);
        }
    }

    private void CompletePings(ReadOnlySpan<byte> pongPayload)
    {
        if (Volatile.Read(ref _pendingPingsStorage) is null) return; // no ping of ours: an unsolicited pong
        lock (_pendingPings)
        {
            int match = -1;
            for (int i = 0; i < _pendingPings.Count; i++)
                if (pongPayload.SequenceEqual(_pendingPings[i].Payload)) match = i;
            // Unsolicited pongs (RFC 6455 §5.5.3) match nothing and are ignored.
            if (match < 0) return;
            long now = Stopwatch.GetTimestamp();
            LastRoundTripTime = Stopwatch.GetElapsedTime(_pendingPings[match].Timestamp, now);
            DuplexMetrics.PingRoundTrip.Record(LastRoundTripTime.Value.TotalMilliseconds);
            for (int i = 0; i <= match; i++)
                _pendingPings[i].Pong.TrySetResult(Stopwatch.GetElapsedTime(_pendingPings[i].Timestamp, now));
            _pendingPings.RemoveRange(0, match + 1);
        }
    }

    private void FailPendingPings()
    {
        if (Volatile.Read(ref _pendingPingsStorage) is null) return;
        lock (_pendingPings)
        {
            foreach (var p in _pendingPings)
                p.Pong.TrySetException(new WebSocketClosedException(State, _closeStatus, _closeDescription));
            _pendingPings.Clear();
        }
    }
}
