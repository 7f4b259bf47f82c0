using System.Buffers;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex.Tests.Support;

/// <summary>
/// Drives a <see cref="WebSocketProtocol"/> the way a transport loop does, synchronously: each
/// delivery of bytes is read up to <see cref="WebSocketEvent.NeedMoreData"/> (or the end of input),
/// the bytes the protocol hands back are kept for the next delivery, and every event is recorded with
/// its data. What the protocol writes goes to <see cref="Output"/>, which the assertions decode with
/// <see cref="FrameHeader.TryParse"/> and <see cref="Masking"/>.
/// </summary>
public sealed class ProtocolHarness : IDisposable
{
    // A bound on events per delivery: a protocol that stops consuming must fail a test, not hang it.
    private const int MaxEventsPerDelivery = 1_000_000;

    private readonly WebSocketProtocolOptions? _options;
    private readonly PerMessageDeflateParameters? _compression;
    // Everything done to the protocol, in order, so a twin can be brought to the same point.
    private readonly List<Action<ProtocolHarness>> _history = [];
    private byte[] _pending = [];

    public ProtocolHarness(WebSocketRole role, WebSocketProtocolOptions? options = null, PerMessageDeflateParameters? compression = null)
    {
        _options = options;
        _compression = compression;
        Protocol = new WebSocketProtocol(role, options, compression);
    }

    public static ProtocolHarness Server(WebSocketProtocolOptions? options = null, PerMessageDeflateParameters? compression = null) =>
        new(WebSocketRole.Server, options, compression);

    public static ProtocolHarness Client(WebSocketProtocolOptions? options = null, PerMessageDeflateParameters? compression = null) =>
        new(WebSocketRole.Client, options, compression);

    public WebSocketProtocol Protocol { get; }

    public WebSocketRole Role => Protocol.Role;

    public WebSocketProtocolState State => Protocol.State;

    /// <summary>Everything the protocol wrote that no assertion has taken yet.</summary>
    public ArrayBufferWriter<byte> Output { get; } = new();

    /// <summary>Whether the protocol said <see cref="WebSocketEvent.InputEnded"/>: a driver reads no more.</summary>
    public bool InputEnded { get; private set; }

    /// <summary>Bytes the protocol handed back, unread, to come again in front of the next delivery.</summary>
    public int Buffered => _pending.Length;

    /// <summary>Bytes given to the protocol so far, in all deliveries.</summary>
    public long Delivered { get; private set; }

    /// <summary>One delivery of bytes in one segment.</summary>
    public List<ProtocolEvent> Receive(ReadOnlySpan<byte> bytes) => ReceiveSegments(bytes.ToArray());

    /// <summary>A delivery written as hex, spaces allowed: <c>"81 05 48 65 6c 6c 6f"</c>.</summary>
    public List<ProtocolEvent> ReceiveHex(string hex) => Receive(Hex(hex));

    /// <summary>One delivery whose bytes arrive as a multi-segment sequence, one segment per array.</summary>
    public List<ProtocolEvent> ReceiveSegments(params byte[][] segments)
    {
        var events = new List<ProtocolEvent>();
        _history.Add(twin => twin.ReceiveSegments(segments));
        foreach (var segment in segments) Delivered += segment.Length;
        if (InputEnded) return events;
        var input = Sequence([_pending, .. segments]);
        for (int i = 0; i < MaxEventsPerDelivery; i++)
        {
            long before = input.Length;
            var kind = Protocol.Receive(ref input);
            Assert.True(input.Length <= before, "Receive grew its input");
            if (kind == WebSocketEvent.NeedMoreData)
            {
                _pending = input.ToArray();
                return events;
            }
            events.Add(Describe(kind));
            if (kind == WebSocketEvent.InputEnded)
            {
                InputEnded = true;
                _pending = [];
                return events;
            }
        }
        throw new Xunit.Sdk.XunitException($"more than {MaxEventsPerDelivery} events from one delivery: the protocol is not consuming its input");
    }

    private ProtocolEvent Describe(WebSocketEvent kind)
    {
        switch (kind)
        {
            case WebSocketEvent.Message:
            case WebSocketEvent.MessagePart:
                var message = Protocol.TakeMessage(out int length);
                Assert.True(message is not null || length == 0, "a message with a length and no buffer");
                var data = message is null ? [] : message.AsSpan(0, length).ToArray();
                if (message is not null) ArrayPool<byte>.Shared.Return(message);
                return new(kind, Protocol.MessageOpcode, data);
            case WebSocketEvent.Ping:
                return new(kind, Opcode.Ping, Protocol.ControlPayload.ToArray());
            case WebSocketEvent.Pong:
                return new(kind, Opcode.Pong, Protocol.ControlPayload.ToArray());
            case WebSocketEvent.Close:
                return new(kind, Opcode.Close, Protocol.ControlPayload.ToArray(), Protocol.PeerCloseStatus, Protocol.PeerCloseReason);
            case WebSocketEvent.Failure:
                Assert.False(string.IsNullOrWhiteSpace(Protocol.Error.Reason), "a failure without a reason");
                return new(kind, default, [], Protocol.Error.Status, Protocol.Error.Reason);
            default:
                return new(kind, default, []);
        }
    }

    /// <summary>Writes our close frame (<see cref="WebSocketProtocol.WriteClose"/>), remembered for twins.</summary>
    public bool WriteClose(CloseStatus? status, string? reason = null)
    {
        _history.Add(twin => twin.Protocol.WriteClose(new ArrayBufferWriter<byte>(), status, reason));
        return Protocol.WriteClose(Output, status, reason);
    }

    /// <summary>Fails the connection for a reason of the caller's (<see cref="WebSocketProtocol.Fail"/>), remembered for twins.</summary>
    public void Fail(ProtocolError error)
    {
        _history.Add(twin => twin.Protocol.Fail(error));
        Protocol.Fail(error);
    }

    /// <summary>
    /// Delivers <paramref name="wire"/> to this harness in one piece, and to twins with the same role,
    /// options and history one byte at a time, in seeded random splits and as one multi-segment
    /// sequence of random segments; asserts all of them report the same events and end in the same
    /// state, and returns the events.
    /// </summary>
    public List<ProtocolEvent> ReceiveInEverySplit(byte[] wire, int seed = 6455)
    {
        var history = _history.ToArray();
        var rng = new Random(seed);
        var splits = new List<(string Name, Func<ProtocolHarness, List<ProtocolEvent>> Feed)>
        {
            ("one byte at a time", twin => [.. wire.SelectMany(b => twin.Receive([b]))]),
            ("as one multi-segment sequence", twin => twin.ReceiveSegments(RandomCuts(rng, wire, 1, 5))),
            ("as one sequence of 1-byte segments", twin => twin.ReceiveSegments([.. wire.Select(b => new[] { b })])),
        };
        for (int i = 0; i < 4; i++)
        {
            int maxPiece = i switch { 0 => 3, 1 => 17, 2 => 200, _ => 4096 };
            splits.Add(($"in random pieces of up to {maxPiece} bytes (split {i})", twin => [.. RandomCuts(rng, wire, 1, maxPiece).SelectMany(p => twin.Receive(p))]));
        }
        var whole = Receive(wire);
        var expected = whole.Select(e => e.ToString()).ToList();
        foreach (var (name, feed) in splits)
        {
            using var twin = new ProtocolHarness(Role, _options, _compression);
            foreach (var earlier in history) earlier(twin);
            var events = feed(twin);
            var actual = events.Select(e => e.ToString()).ToList();
            if (!expected.SequenceEqual(actual))
                throw new Xunit.Sdk.XunitException($"delivered {name}, the events differ.\nwhole: {string.Join(" | ", expected)}\nsplit: {string.Join(" | ", actual)}");
            Assert.True((State, InputEnded) == (twin.State, twin.InputEnded), $"delivered {name}: ended {twin.State}/{twin.InputEnded}, not {State}/{InputEnded}");
        }
        return whole;
    }

    private static byte[][] RandomCuts(Random rng, byte[] wire, int minPiece, int maxPiece)
    {
        var pieces = new List<byte[]>();
        for (int pos = 0; pos < wire.Length;)
        {
            int n = Math.Min(rng.Next(minPiece, maxPiece + 1), wire.Length - pos);
            pieces.Add(wire[pos..(pos + n)]);
            pos += n;
        }
        return [.. pieces];
    }

    /// <summary>A frame as this end's peer sends it: masked when it comes from a client (§5.3).</summary>
    public byte[] PeerFrame(Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true, byte rsv = 0) =>
        Role == WebSocketRole.Server ? Frames.Client(opcode, payload, fin, rsv) : Frames.Server(opcode, payload, fin, rsv);

    public byte[] PeerFrame(Opcode opcode, string text, bool fin = true) => PeerFrame(opcode, System.Text.Encoding.UTF8.GetBytes(text), fin);

    /// <summary>A frame as this end's peer would send it but with any opcode nibble and a declared length of its own.</summary>
    public byte[] PeerBuild(byte opcode, ReadOnlySpan<byte> payload, long declaredLength, bool fin = true, byte rsv = 0) =>
        Frames.Build(opcode, payload, fin, rsv, Role == WebSocketRole.Server, Frames.DefaultKey, declaredLength);

    public byte[] PeerClose(int code, string reason = "") => PeerFrame(Opcode.Close, Frames.ClosePayload(code, reason));

    /// <summary>The frames written so far, decoded (and unmasked), and taken out of <see cref="Output"/>.</summary>
    public List<WireFrame> TakeFramesSent()
    {
        var frames = new List<WireFrame>();
        var wire = Output.WrittenSpan;
        while (!wire.IsEmpty)
        {
            Assert.True(FrameHeader.TryParse(wire, out var header), "the output ends inside a frame header");
            Assert.True(header.PayloadLength <= wire.Length - header.HeaderLength, "the output ends inside a frame's payload");
            var payload = wire.Slice(header.HeaderLength, (int)header.PayloadLength).ToArray();
            // RFC 6455 §5.1, §5.3: a client masks every frame it sends, a server none.
            Assert.Equal(Role == WebSocketRole.Client, header.Masked);
            if (header.Masked) Masking.Apply(payload, header.MaskKey, 0);
            frames.Add(new WireFrame(header.Fin, header.Rsv, header.Opcode, header.Masked, header.MaskKey, payload));
            wire = wire.Slice(header.HeaderLength + payload.Length);
        }
        Output.ResetWrittenCount();
        return frames;
    }

    /// <summary>Asserts that exactly one frame was written, final and without RSV bits, and returns it.</summary>
    public WireFrame AssertFrameSent(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        var frame = Assert.Single(TakeFramesSent());
        Assert.Equal(opcode, frame.Opcode);
        Assert.True(frame.Fin, "a control or whole-message frame without FIN");
        Assert.Equal(0, frame.Rsv);
        Assert.Equal(Convert.ToHexString(payload), Convert.ToHexString(frame.Payload));
        return frame;
    }

    /// <summary>Asserts that exactly one close frame was written, with <paramref name="code"/> (none when null), and returns it.</summary>
    public WireFrame AssertCloseSent(int? code, string? reason = null)
    {
        var frame = Assert.Single(TakeFramesSent());
        Assert.Equal(Opcode.Close, frame.Opcode);
        Assert.True(frame.Fin);
        Assert.True(frame.Payload.Length <= 125, "a close frame over 125 bytes");
        Assert.Equal(code, frame.CloseCode);
        if (code is null) Assert.Empty(frame.Payload);
        if (reason is not null) Assert.Equal(reason, System.Text.Encoding.UTF8.GetString(frame.Payload.AsSpan(2)));
        return frame;
    }

    public void AssertNothingSent() => Assert.Equal(0, Output.WrittenCount);

    /// <summary>
    /// The "Fail the WebSocket Connection" process (§7.1.7), as a driver runs it: the events end in a
    /// failure with <paramref name="code"/>, the state is Failing, no message came with the failure, and
    /// the close frame we then write carries the code.
    /// </summary>
    public void AssertConnectionFailing(List<ProtocolEvent> events, CloseStatus code)
    {
        Assert.NotEmpty(events);
        var failure = events[^1];
        if (failure.Kind == WebSocketEvent.InputEnded && events.Count > 1) failure = events[^2];
        Assert.True(failure.Kind == WebSocketEvent.Failure, $"no failure, events: {string.Join(" | ", events)}");
        Assert.Equal(code, failure.Status);
        Assert.Equal(code, Protocol.Error.Status);
        Assert.Equal(WebSocketProtocolState.Failing, State);
        Assert.True(WriteClose(Protocol.Error.Status, Protocol.Error.Reason));
        AssertCloseSent((int)code);
    }

    /// <summary>
    /// The peer's close frame arrived (§7.1.2): the events end in a close with <paramref name="code"/>
    /// (1005 for none), our reply echoes the code, and then input ends for a server (it closes TCP,
    /// §7.1.1) while a client reads on until the server does.
    /// </summary>
    public void AssertConnectionClosing(List<ProtocolEvent> events, int? code, string reason = "")
    {
        var close = events.LastOrDefault(e => e.Kind == WebSocketEvent.Close);
        Assert.True(close is not null, $"no close, events: {string.Join(" | ", events)}");
        Assert.Equal((CloseStatus)(code ?? 1005), close!.Status);
        Assert.Equal(reason, close.Reason);
        _history.Add(twin => twin.Protocol.WriteCloseReply(new ArrayBufferWriter<byte>()));
        Assert.True(Protocol.WriteCloseReply(Output));
        AssertCloseSent(code);
        Assert.Equal(WebSocketProtocolState.Closed, State);
        AssertInputOverAfterTheCloseHandshake();
    }

    /// <summary>§7.1.1: once both close frames are exchanged the server closes TCP; the client reads on, ignoring.</summary>
    public void AssertInputOverAfterTheCloseHandshake()
    {
        var after = Receive(Role == WebSocketRole.Server ? Frames.Client(Opcode.Text, "late") : Frames.Server(Opcode.Text, "late"u8));
        if (Role == WebSocketRole.Server)
        {
            Assert.True(InputEnded, $"the server reads on: {string.Join(" | ", after)}");
        }
        else
        {
            Assert.Empty(after);
            Assert.False(InputEnded, "the client ends input before the server closes TCP");
            Assert.Equal(0, Buffered);
        }
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "").Replace("\n", ""));

    /// <summary>A sequence of one segment per array (empty arrays dropped).</summary>
    public static ReadOnlySequence<byte> Sequence(params byte[][] segments)
    {
        var parts = segments.Where(s => s.Length > 0).ToArray();
        if (parts.Length == 0) return ReadOnlySequence<byte>.Empty;
        if (parts.Length == 1) return new ReadOnlySequence<byte>(parts[0]);
        var first = new Segment(parts[0], 0);
        var last = first;
        for (int i = 1; i < parts.Length; i++) last = last.Append(parts[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    public void Dispose() => Protocol.Dispose();
}
