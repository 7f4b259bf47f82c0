using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Duplex.Conformance.Cases;
using Duplex.Conformance.Deflate;
using Duplex.Conformance.Judging;
using Duplex.Conformance.Wire;

namespace Duplex.Conformance.Session;

/// <summary>
/// One open WebSocket connection driven by one case. It plays a deliberately permissive endpoint:
/// it sends whatever the case asks, validates what the peer sends (so a peer that misbehaves is
/// caught), runs the closing handshake and its timeouts the way Autobahn's fuzzer does, and
/// records who closed what so <see cref="CaseJudge"/> can give its verdicts.
/// </summary>
/// <remarks>
/// All state changes happen on one logical thread: socket reads, timers and the case script post
/// actions to a channel that a single loop runs in order, the way a reactor serialises callbacks.
/// So nothing here needs a lock, and a case script reads like Autobahn's event handlers.
/// </remarks>
internal sealed class CaseSession
{
    // Autobahn's defaults: wait 1 s for the peer's close reply, and (as a client) 1 s for the
    // server to drop TCP after the closing handshake (RFC 6455 §7.1.1: the server closes first).
    private const double CloseHandshakeTimeoutSeconds = 1;
    private const double ServerDropTimeoutSeconds = 1;
    private const int MaxLoggedFrames = 64;
    private const long MaxFrameLength = 64L * 1024 * 1024;

    private readonly ConformanceCase _case;
    private readonly Socket _socket;
    private readonly byte[] _leftover;
    private readonly Channel<Action> _events = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = new();
    private readonly FrameParser _parser = new(MaxFrameLength);
    private readonly WireWriter _writer;
    private readonly Utf8Validator _utf8 = new();
    private readonly int _allowedRsv;
    private readonly MemoryStream _message = new();
    private bool _inMessage;
    private bool _messageIsBinary;
    private bool _messageIsCompressed;
    private readonly MessageDeflater? _deflater;
    private readonly MessageInflater? _inflater;
    private bool _finished;
    private TimerHandle? _closeHandshakeTimer;

    public CaseSession(ConformanceCase conformanceCase, Socket socket, HarnessRole role, byte[] leftover, string? negotiatedExtensions)
    {
        _case = conformanceCase;
        _socket = socket;
        _leftover = leftover;
        Role = role;
        NegotiatedExtensions = negotiatedExtensions;
        // RFC 6455 §5.2: RSV bits must be 0 unless an extension that defines them was negotiated.
        _allowedRsv = negotiatedExtensions is null ? 0 : conformanceCase.RsvAllowedWhenNegotiated;
        Compression = NegotiatedDeflate(negotiatedExtensions);
        if (Compression is { } agreement)
        {
            // Each side compresses within its own agreed window and context rule and inflates the peer's
            // messages with the peer's. RFC 7692 §7.1.1.2: a client that offered client_no_context_takeover
            // told the server it will not use context takeover, so it keeps its word even if the
            // response leaves the parameter out.
            bool client = role == HarnessRole.Client;
            bool hinted = client && conformanceCase.ExtensionOffer is { } offer
                && ExtensionHeader.Parse(offer, out _) is { Count: > 0 } offered
                && offered.All(e => DeflateOffer.FromElement(e, out _)?.ClientNoContextTakeover == true);
            _deflater = client
                ? new MessageDeflater(agreement.ClientMaxWindowBits, agreement.ClientNoContextTakeover || hinted)
                : new MessageDeflater(agreement.ServerMaxWindowBits, agreement.ServerNoContextTakeover);
            _inflater = client
                ? new MessageInflater(agreement.ServerMaxWindowBits, agreement.ServerNoContextTakeover, MaxFrameLength)
                : new MessageInflater(agreement.ClientMaxWindowBits, agreement.ClientNoContextTakeover, MaxFrameLength);
            Notes.Add($"permessage-deflate agreed: {agreement}; harness compresses with window {(client ? agreement.ClientMaxWindowBits : agreement.ServerMaxWindowBits)}"
                + $"{(client && hinted && !agreement.ClientNoContextTakeover ? " and no context takeover (its offer's hint)" : "")}");
        }
        _writer = new WireWriter(socket, () => Post(() => ConnectionLost("the harness closed the TCP connection")));
    }

    public HarnessRole Role { get; }

    /// <summary>The permessage-deflate parameters in force, or null when the extension was not negotiated.</summary>
    public DeflateAgreement? Compression { get; }

    /// <summary>Counts for the report: messages and octets before and after compression, each way.</summary>
    public CompressionStats CompressionCounts { get; } = new();
    public string? NegotiatedExtensions { get; }
    public ConnectionState State { get; private set; } = ConnectionState.Open;

    // What happened, in Autobahn's terms (see CaseJudge for how they are judged).
    public bool ConnectionWasOpen { get; private set; }
    public bool ClosedByMe { get; private set; }
    public bool FailedByMe { get; private set; }
    public bool DroppedByMe { get; private set; }
    public bool WasClean { get; private set; }
    public string? WasNotCleanReason { get; private set; }
    public bool WasCloseHandshakeTimeout { get; private set; }
    public bool WasServerConnectionDropTimeout { get; private set; }
    public bool WasHardTimeout { get; private set; }
    public int? LocalCloseCode { get; private set; }
    public string? LocalCloseReason { get; private set; }
    public int? RemoteCloseCode { get; private set; }
    public string? RemoteCloseReason { get; private set; }
    public long DurationMs { get; private set; }

    public List<CaseEvent> Received { get; } = [];
    public List<(string Verdict, CaseEvent[] Events)> Expected { get; } = [];
    public ExpectedClose? ExpectedClose { get; private set; }
    public CaseOutcome Outcome { get; } = new();
    public List<string> Notes { get; } = [];
    public List<string> FramesReceived { get; } = [];
    public SortedDictionary<string, int> FramesReceivedByOpcode { get; } = [];
    public SortedDictionary<string, int> FramesSentByOpcode { get; } = [];
    public long OctetsSent => _writer.OctetsWritten;
    public long OctetsReceived { get; private set; }

    /// <summary>When set, whole messages go here instead of being recorded (chapter 9 counts and times them).</summary>
    public Action<byte[], bool>? MessageHandler { get; set; }

    public int FramesSent(int opcode) => FramesSentByOpcode.GetValueOrDefault(Opcode.Name(opcode));

    /// <summary>Runs the case to the end of the TCP connection (or the case's hard limit).</summary>
    public async Task RunAsync()
    {
        _socket.NoDelay = true;
        var receiving = ReceiveLoopAsync();
        Post(() =>
        {
            ConnectionWasOpen = true;
            _clock.Start();
            _case.OnOpen(this);
        });
        Schedule(_case.HardLimit.TotalSeconds, HardTimeout, runWhenClosed: true);

        await foreach (var action in _events.Reader.ReadAllAsync())
        {
            action();
            if (_finished)
            {
                break;
            }
        }
        DurationMs = _clock.ElapsedMilliseconds;
        // A write that failed while the case ran is worth reporting; failures caused by the teardown below are not.
        string? writeError = _writer.WriteError;
        await _stop.CancelAsync();
        // Whoever closed first, nothing more may be written: stop the writer and release the socket.
        _writer.Abort();
        _socket.Dispose();
        await Task.WhenAny(Task.WhenAll(receiving, _writer.Completion), Task.Delay(TimeSpan.FromSeconds(2)));
        _deflater?.Dispose();
        _inflater?.Dispose();
        if (Compression is not null)
        {
            Notes.Add(CompressionCounts.Describe());
            Notes.AddRange(_inflater!.Notes.Distinct());
        }
        if (writeError is not null)
        {
            Notes.Add($"write error (the peer closed while the harness was still sending): {writeError}");
        }
    }

    // ---- the script API: what a case may do, mirroring Autobahn's fuzzing protocol ----

    /// <summary>Declares that receiving exactly <paramref name="events"/> earns <paramref name="verdict"/>.</summary>
    public void Expect(string verdict, params CaseEvent[] events) => Expected.Add((verdict, events));

    public void ExpectClose(bool closedByMe, int[] closeCodes, bool requireClean, bool closedByWrongEndpointIsFatal = false) =>
        ExpectedClose = new ExpectedClose(closedByMe, closeCodes, requireClean, closedByWrongEndpointIsFatal);

    /// <summary>Writes one frame exactly as given, legal or not. A chop size splits its octets over separate writes.</summary>
    public void SendFrame(int opcode, byte[]? payload = null, bool fin = true, int rsv = 0, int chopSize = 0, bool sync = false)
    {
        payload ??= [];
        // RFC 6455 §5.3: a client masks every frame, a server never does.
        var frame = FrameBuilder.Build(opcode, payload, fin, rsv, mask: Role == HarnessRole.Client);
        Count(FramesSentByOpcode, opcode);
        _writer.Enqueue(frame, chopSize, sync);
    }

    public void SendFrame(int opcode, string payload, bool fin = true, int rsv = 0, int chopSize = 0, bool sync = false) =>
        SendFrame(opcode, Encoding.UTF8.GetBytes(payload), fin, rsv, chopSize, sync);

    /// <summary>Sends a message, split into frames of <paramref name="fragmentSize"/> octets when given.</summary>
    public void SendMessage(byte[] payload, bool binary, int fragmentSize = 0)
    {
        int opcode = binary ? Opcode.Binary : Opcode.Text;
        if (fragmentSize <= 0 || payload.Length <= fragmentSize)
        {
            SendFrame(opcode, payload);
            return;
        }
        for (int offset = 0; offset < payload.Length; offset += fragmentSize)
        {
            int length = Math.Min(fragmentSize, payload.Length - offset);
            SendFrame(offset == 0 ? opcode : Opcode.Continuation, payload.AsSpan(offset, length).ToArray(), fin: offset + length == payload.Length);
        }
    }

    /// <summary>
    /// Sends a message compressed with permessage-deflate (RFC 7692 §7.2.1): RSV1 on the first frame,
    /// and, like Autobahn's auto-fragmentation, the compressed payload split into frames of
    /// <paramref name="fragmentSize"/> octets when given. Without an agreed extension it is sent as is.
    /// </summary>
    public void SendCompressedMessage(byte[] payload, bool binary, int fragmentSize = 0)
    {
        if (_deflater is null)
        {
            SendMessage(payload, binary, fragmentSize);
            return;
        }
        var compressed = _deflater.Compress(payload);
        CompressionCounts.Sent(payload.Length, compressed.Length);
        int opcode = binary ? Opcode.Binary : Opcode.Text;
        if (fragmentSize <= 0 || compressed.Length <= fragmentSize)
        {
            SendFrame(opcode, compressed, rsv: 4);
            return;
        }
        for (int offset = 0; offset < compressed.Length; offset += fragmentSize)
        {
            int length = Math.Min(fragmentSize, compressed.Length - offset);
            SendFrame(offset == 0 ? opcode : Opcode.Continuation, compressed.AsSpan(offset, length).ToArray(),
                fin: offset + length == compressed.Length, rsv: offset == 0 ? 4 : 0);
        }
    }

    /// <summary>Starts one frame whose payload will be written later in parts (cases 6.4.3/6.4.4).</summary>
    public StreamedFrame BeginFrame(int opcode, int payloadLength)
    {
        Count(FramesSentByOpcode, opcode);
        return new StreamedFrame(this, opcode, payloadLength);
    }

    /// <summary>
    /// Starts the closing handshake (RFC 6455 §5.5.1) with the given code and raw reason octets; the
    /// reason may be invalid UTF-8 or too long on purpose. Ignored unless the connection is open.
    /// </summary>
    public void SendClose(int? code = null, byte[]? reason = null) => SendCloseFrame(code, reason, isReply: false);

    public void SendClose(int code, string reason) => SendClose(code, Encoding.UTF8.GetBytes(reason));

    /// <summary>After <paramref name="seconds"/>, fails the connection if it is still there (Autobahn's killAfter).</summary>
    public void KillAfter(double seconds) => Schedule(seconds * Patience, () => FailConnection(1001, "case time is up"));

    /// <summary>
    /// Multiplies the give-up timer only: how long the harness waits for a slow peer, never what a
    /// peer must do. A client started as a fresh process per case JIT-compiles its receive path on
    /// the case's first frame, which on a loaded 2-core machine can take longer than Autobahn's 0.5 s.
    /// </summary>
    public static double Patience { get; set; } = 1;

    /// <summary>After <paramref name="seconds"/>, starts the closing handshake without a code if still open (Autobahn's closeAfter).</summary>
    public void CloseAfter(double seconds) => Schedule(seconds, () => SendCloseFrame(null, null, isReply: false));

    /// <summary>After <paramref name="seconds"/>, runs <paramref name="next"/> if the connection is not closed yet.</summary>
    public void ContinueLater(double seconds, Action next) => Schedule(seconds, next);

    /// <summary>Records an event (used by cases that mark elapsed waits as "timeout" events).</summary>
    public void Record(CaseEvent caseEvent) => Received.Add(caseEvent);

    // ---- inbound processing ----

    private async Task ReceiveLoopAsync()
    {
        try
        {
            if (_leftover.Length > 0)
            {
                _parser.Append(_leftover);
                OctetsReceived += _leftover.Length;
                DrainFrames();
            }
            while (true)
            {
                int read = await _socket.ReceiveAsync(_parser.GetReceiveBuffer(64 * 1024), SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    Post(() => ConnectionLost("peer closed the TCP connection"));
                    return;
                }
                OctetsReceived += read;
                _parser.Advance(read);
                DrainFrames();
            }
        }
        catch (OperationCanceledException)
        {
            // The case is over.
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            string reason = e is SocketException se ? $"TCP error {se.SocketErrorCode}" : "socket closed";
            Post(() => ConnectionLost(reason));
        }
    }

    private void DrainFrames()
    {
        while (_parser.TryReadFrame(out var frame))
        {
            var received = frame!;
            Post(() => OnFrame(received));
        }
    }

    private void OnFrame(WireFrame frame)
    {
        if (State == ConnectionState.Closed)
        {
            return;
        }
        Count(FramesReceivedByOpcode, frame.Opcode);
        if (FramesReceived.Count < MaxLoggedFrames)
        {
            FramesReceived.Add($"+{_clock.ElapsedMilliseconds}ms {frame.Describe()} {CaseEvent.Preview(frame.Payload, 24)}");
        }

        // Header checks first; an offending frame is not processed further (RFC 6455 §7.1.7).
        string? violation =
            frame.Oversized ? (frame.LengthHighBitSet ? "64-bit payload length with the most significant bit set (RFC 6455 §5.2)" : null)
            : (frame.Rsv & ~_allowedRsv) != 0 ? $"RSV bits {frame.Rsv} set without a negotiated extension (RFC 6455 §5.2)"
            // RFC 7692 §6.1: permessage-deflate sets RSV1 on the first frame of a data message only.
            : Compression is not null && (frame.Rsv & 4) != 0 && Opcode.IsControl(frame.Opcode) ? "RSV1 on a control frame (RFC 7692 §6.1)"
            : Compression is not null && (frame.Rsv & 4) != 0 && frame.Opcode == Opcode.Continuation ? "RSV1 on a continuation frame (RFC 7692 §6.1)"
            : Opcode.IsReserved(frame.Opcode) ? $"reserved opcode {frame.Opcode} (RFC 6455 §5.2)"
            : Opcode.IsControl(frame.Opcode) && !frame.Fin ? "fragmented control frame (RFC 6455 §5.5)"
            : Opcode.IsControl(frame.Opcode) && frame.Payload.Length > 125 ? "control frame payload over 125 octets (RFC 6455 §5.5)"
            : Role == HarnessRole.Client && frame.Masked ? "masked frame from a server (RFC 6455 §5.1)"
            : Role == HarnessRole.Server && !frame.Masked ? "unmasked frame from a client (RFC 6455 §5.1)"
            : !frame.MinimalLengthEncoding ? "payload length not in its minimal encoding (RFC 6455 §5.2)"
            : null;
        if (frame.Oversized && violation is null)
        {
            Notes.Add($"frame larger than the harness buffers ({MaxFrameLength} octets)");
            FailConnection(1009, "frame too big for the harness");
            return;
        }
        if (violation is not null)
        {
            ProtocolViolation(violation);
            return;
        }

        switch (frame.Opcode)
        {
            case Opcode.Continuation or Opcode.Text or Opcode.Binary:
                OnDataFrame(frame);
                break;
            case Opcode.Close:
                OnCloseFrame(frame.Payload);
                break;
            case Opcode.Ping:
                OnEvent(CaseEvent.Ping(frame.Payload));
                // RFC 6455 §5.5.2: answer a ping with a pong carrying the same payload.
                if (State == ConnectionState.Open)
                {
                    SendFrame(Opcode.Pong, frame.Payload);
                }
                break;
            case Opcode.Pong:
                OnEvent(CaseEvent.Pong(frame.Payload));
                break;
        }
    }

    private void OnDataFrame(WireFrame frame)
    {
        if (frame.Opcode == Opcode.Continuation && !_inMessage)
        {
            ProtocolViolation("continuation frame without a message to continue (RFC 6455 §5.4)");
            return;
        }
        if (frame.Opcode != Opcode.Continuation && _inMessage)
        {
            ProtocolViolation("new data frame while a fragmented message is still open (RFC 6455 §5.4)");
            return;
        }
        if (frame.Opcode != Opcode.Continuation)
        {
            _inMessage = true;
            _messageIsBinary = frame.Opcode == Opcode.Binary;
            _messageIsCompressed = (frame.Rsv & 4) != 0;
            _message.SetLength(0);
            _utf8.Reset();
        }
        _message.Write(frame.Payload);
        // RFC 6455 §8.1: text must be valid UTF-8; checking each frame as it comes fails fast.
        // A compressed message is checked once it is inflated.
        if (!_messageIsBinary && !_messageIsCompressed && !_utf8.Feed(frame.Payload))
        {
            InvalidPayload("text message is not valid UTF-8");
            return;
        }
        if (!frame.Fin)
        {
            return;
        }
        _inMessage = false;
        var payload = _message.ToArray();
        if (_messageIsCompressed)
        {
            // RFC 7692 §7.2.2: append 00 00 FF FF and inflate.
            var inflated = _inflater!.Decompress(payload, out var inflateError);
            if (inflated is null)
            {
                InvalidPayload($"compressed message cannot be inflated: {inflateError}");
                return;
            }
            CompressionCounts.Received(inflated.Length, payload.Length);
            payload = inflated;
            if (!_messageIsBinary && (!_utf8.Feed(payload) || !_utf8.IsComplete))
            {
                InvalidPayload("inflated text message is not valid UTF-8");
                return;
            }
        }
        else if (Compression is not null)
        {
            CompressionCounts.ReceivedUncompressed(payload.Length);
        }
        if (!_messageIsBinary && !_utf8.IsComplete)
        {
            InvalidPayload("text message ends inside a UTF-8 sequence");
            return;
        }
        if (MessageHandler is not null)
        {
            MessageHandler(payload, _messageIsBinary);
        }
        else
        {
            OnEvent(CaseEvent.Message(payload, _messageIsBinary));
        }
    }

    private void OnEvent(CaseEvent caseEvent)
    {
        Received.Add(caseEvent);
        FinishWhenDone();
    }

    /// <summary>
    /// When what was received satisfies every expectation, the case is done; if the harness is
    /// meant to close, it does so now rather than waiting for a timer.
    /// </summary>
    private void FinishWhenDone()
    {
        if (Expected.Count == 0 || ExpectedClose is null || Expected.Any(e => !Received.SequenceEqual(e.Events)))
        {
            return;
        }
        if (ExpectedClose.ClosedByMe && !_case.SuppressClose)
        {
            SendCloseFrame(ExpectedClose.CloseCodes[0], null, isReply: false);
        }
    }

    private void OnCloseFrame(byte[] payload)
    {
        int? code = null;
        if (payload.Length == 1)
        {
            // RFC 6455 §5.5.1: a close body, if present, starts with a 2-octet code.
            ProtocolViolation("close frame with a 1-octet payload");
        }
        else if (payload.Length >= 2)
        {
            code = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (!IsValidCloseCode(code.Value))
            {
                ProtocolViolation($"close code {code} may not be sent (RFC 6455 §7.4)");
            }
            var reason = payload.AsSpan(2);
            if (!Utf8Validator.IsValidUtf8(reason))
            {
                InvalidPayload("close reason is not valid UTF-8 (RFC 6455 §5.5.1)");
            }
            else if (!reason.IsEmpty)
            {
                RemoteCloseReason = Encoding.UTF8.GetString(reason);
            }
        }
        RemoteCloseCode = code;

        switch (State)
        {
            case ConnectionState.Closing:
                // The reply to our close: the handshake is complete.
                _closeHandshakeTimer?.Cancel();
                WasClean = true;
                if (Role == HarnessRole.Server)
                {
                    // RFC 6455 §7.1.1: the server closes the TCP connection first.
                    DropConnection(abort: true);
                }
                else
                {
                    Schedule(ServerDropTimeoutSeconds, () =>
                    {
                        WasClean = false;
                        WasNotCleanReason = "server did not drop the TCP connection within 1 s of the closing handshake";
                        WasServerConnectionDropTimeout = true;
                        DropConnection(abort: true);
                    });
                }
                break;
            case ConnectionState.Open:
                // The peer starts the closing handshake; echo a close (RFC 6455 §5.5.1).
                WasClean = true;
                SendCloseFrame(1000, null, isReply: true);
                if (Role == HarnessRole.Server)
                {
                    DropConnection(abort: false);
                }
                else
                {
                    // Autobahn simply waits for the server here; the harness must stay bounded, so after
                    // the same grace period it drops TCP itself, which the judge reports as FAILED BY CLIENT.
                    Schedule(ServerDropTimeoutSeconds, () =>
                    {
                        Notes.Add("server did not drop the TCP connection within 1 s after the closing handshake it started");
                        DropConnection(abort: false);
                    });
                }
                break;
        }
    }

    // RFC 6455 §7.4.1/§7.4.2 and the IANA registry: codes an endpoint may put in a close frame.
    private static bool IsValidCloseCode(int code) =>
        code is >= 1000 and <= 1003 or >= 1007 and <= 1014 or >= 3000 and <= 4999;

    // ---- failing and closing ----

    private void ProtocolViolation(string reason)
    {
        Notes.Add($"peer violated the protocol: {reason}");
        FailConnection(1002, reason);
    }

    private void InvalidPayload(string reason)
    {
        Notes.Add($"peer sent invalid payload: {reason}");
        FailConnection(1007, reason);
    }

    /// <summary>RFC 6455 §7.1.7: fail the connection by starting the closing handshake (or dropping TCP if it is already under way).</summary>
    private void FailConnection(int code, string reason)
    {
        if (State == ConnectionState.Closed)
        {
            return;
        }
        FailedByMe = true;
        if (State == ConnectionState.Open)
        {
            var reasonOctets = Encoding.UTF8.GetBytes(reason);
            SendCloseFrame(code, reasonOctets.Length > 123 ? reasonOctets[..123] : reasonOctets, isReply: false);
        }
        else
        {
            DropConnection(abort: false);
        }
    }

    private void SendCloseFrame(int? code, byte[]? reason, bool isReply)
    {
        if (State != ConnectionState.Open)
        {
            return;
        }
        var payload = new byte[(code is null ? 0 : 2) + (reason?.Length ?? 0)];
        if (code is not null)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code.Value);
        }
        reason?.CopyTo(payload, code is null ? 0 : 2);
        SendFrame(Opcode.Close, payload);
        State = ConnectionState.Closing;
        ClosedByMe = !isReply;
        LocalCloseCode = code;
        LocalCloseReason = reason is null ? null : Utf8Validator.IsValidUtf8(reason) ? Encoding.UTF8.GetString(reason) : "0x" + Convert.ToHexString(reason).ToLowerInvariant();
        if (ClosedByMe)
        {
            _closeHandshakeTimer = Schedule(CloseHandshakeTimeoutSeconds, () =>
            {
                WasClean = false;
                WasNotCleanReason = "peer did not answer the close frame within 1 s";
                WasCloseHandshakeTimeout = true;
                DropConnection(abort: true);
            });
        }
    }

    private void DropConnection(bool abort)
    {
        if (State == ConnectionState.Closed)
        {
            return;
        }
        DroppedByMe = true;
        State = ConnectionState.Closed;
        if (abort)
        {
            _writer.Abort();
        }
        else
        {
            _writer.CloseAfterFlush();
        }
    }

    private void ConnectionLost(string reason)
    {
        if (_finished)
        {
            return;
        }
        State = ConnectionState.Closed;
        if (!WasClean && !DroppedByMe && WasNotCleanReason is null)
        {
            WasNotCleanReason = $"{reason} without a completed closing handshake";
        }
        _finished = true;
    }

    private void HardTimeout()
    {
        WasHardTimeout = true;
        WasClean = false;
        WasNotCleanReason ??= $"case exceeded its hard limit of {_case.HardLimit.TotalSeconds:0} s";
        Notes.Add(WasNotCleanReason);
        DroppedByMe = true;
        // The writer may be stuck behind a peer that stopped reading; close the socket under it.
        _socket.Close();
        ConnectionLost("hard limit");
    }

    // ---- plumbing ----

    private void Post(Action action) => _events.Writer.TryWrite(action);

    private TimerHandle Schedule(double seconds, Action action, bool runWhenClosed = false)
    {
        var handle = new TimerHandle();
        _ = Task.Delay(TimeSpan.FromSeconds(seconds), _stop.Token).ContinueWith(
            delay =>
            {
                if (!delay.IsCanceled)
                {
                    Post(() =>
                    {
                        if (!handle.IsCancelled && !_finished && (runWhenClosed || State != ConnectionState.Closed))
                        {
                            action();
                        }
                    });
                }
            },
            TaskScheduler.Default);
        return handle;
    }

    private static DeflateAgreement? NegotiatedDeflate(string? negotiated)
    {
        if (negotiated is null || ExtensionHeader.Parse(negotiated, out _) is not [var element]
            || !element.Name.Equals(DeflateOffer.Name, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        return DeflateAgreement.FromResponse(element, out _);
    }

    private static void Count(SortedDictionary<string, int> counts, int opcode)
    {
        string name = Opcode.Name(opcode);
        counts[name] = counts.GetValueOrDefault(name) + 1;
    }

    internal void EnqueueRaw(byte[] octets) => _writer.Enqueue(octets, 0, sync: false);

    private sealed class TimerHandle
    {
        public bool IsCancelled { get; private set; }
        public void Cancel() => IsCancelled = true;
    }
}
