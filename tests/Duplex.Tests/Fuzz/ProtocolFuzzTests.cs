using System.Buffers;
using System.Diagnostics;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.Tests.Support;
using Xunit.Abstractions;

namespace Duplex.Tests.Fuzz;

/// <summary>
/// The synchronous twin of <see cref="ConnectionFuzzTests"/>: seeded random and mutated frame streams
/// fed straight to a <see cref="WebSocketProtocol"/> of either role, with and without permessage-deflate,
/// in random deliveries. It must never throw, only report events; never allocate what a header merely
/// announces; always answer with a defined event; and give valid streams back exactly.
/// DUPLEX_FUZZ_ITERATIONS sets the inputs per case (default 25,000, four cases).
/// </summary>
public class ProtocolFuzzTests(ITestOutputHelper output)
{
    private const int SmallLimit = 4096;
    private static readonly PerMessageDeflateParameters Agreed = new(true, true, 15, 15);
    private static readonly PerMessageDeflateParameters AgreedWithTakeover = new(false, false, 15, 15);

    private static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("DUPLEX_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : 25_000;

    // Compressed messages made once: deflating per input would cost more than all the rest.
    private static readonly (Opcode Type, byte[] Plain, byte[] Compressed)[] CompressedPool = MakeCompressedPool();

    private static (Opcode, byte[], byte[])[] MakeCompressedPool()
    {
        var rng = new Random(7692);
        using var deflater = new MessageDeflater(15, noContextTakeover: true);
        var pool = new (Opcode, byte[], byte[])[24];
        for (int i = 0; i < pool.Length; i++)
        {
            bool text = i % 2 == 0;
            var plain = text ? FuzzInput.RandomText(rng, rng.Next(0, 600)) : new byte[rng.Next(0, 600)];
            if (!text) for (int j = 0; j < plain.Length; j++) plain[j] = (byte)(rng.Next(4) == 0 ? rng.Next(256) : j % 7);
            if (i == 22) plain = new byte[3000];   // inflates 100-fold
            var compressed = new ArrayBufferWriter<byte>();
            deflater.CompressMessage(plain, compressed);
            pool[i] = (text ? Opcode.Text : Opcode.Binary, plain, compressed.WrittenSpan.ToArray());
        }
        return pool;
    }

    private sealed record Stream(byte[] Bytes, List<(Opcode Type, byte[] Data)> Messages, int? CloseCode);

    /// <summary>A valid stream as the peer of <paramref name="role"/> sends it: fragments, control frames between, maybe a close.</summary>
    private static Stream Valid(Random rng, WebSocketRole role, bool deflate)
    {
        var bytes = new ArrayBufferWriter<byte>(512);
        var messages = new List<(Opcode, byte[])>();
        bool masked = role == WebSocketRole.Server;
        void Frame(Opcode opcode, ReadOnlySpan<byte> payload, bool fin, byte rsv = 0)
        {
            uint? key = masked ? (uint)rng.NextInt64(0, 1L << 32) : null;
            int headerLength = FrameHeader.GetLength(payload.Length, masked);
            var span = bytes.GetSpan(headerLength + payload.Length);
            FrameHeader.Write(span, fin, rsv, opcode, payload.Length, key);
            payload.CopyTo(span[headerLength..]);
            if (key is uint k) Masking.Apply(span.Slice(headerLength, payload.Length), k, 0);
            bytes.Advance(headerLength + payload.Length);
        }
        Span<byte> control = stackalloc byte[125];
        int count = rng.Next(0, 5);
        for (int m = 0; m < count; m++)
        {
            Opcode type;
            byte[] plain, wire;
            bool compressed = deflate && rng.Next(3) != 0;
            if (compressed)
            {
                (type, plain, wire) = CompressedPool[rng.Next(CompressedPool.Length)];
            }
            else
            {
                type = rng.Next(2) == 0 ? Opcode.Text : Opcode.Binary;
                int size = rng.Next(10) == 0 ? rng.Next(0, SmallLimit + 1) : rng.Next(0, 200);
                plain = type == Opcode.Text ? RandomText(rng, size) : new byte[size];
                if (type == Opcode.Binary) rng.NextBytes(plain);
                if (plain.Length > SmallLimit) plain = plain[..SmallLimit];
                if (type == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(plain)) plain = "ok"u8.ToArray();
                wire = plain;
            }
            int fragments = rng.Next(1, 5);
            int previous = 0;
            for (int f = 0; f < fragments; f++)
            {
                int cut = f == fragments - 1 ? wire.Length : rng.Next(previous, wire.Length + 1);
                Frame(f == 0 ? type : Opcode.Continuation, wire.AsSpan(previous, cut - previous), f == fragments - 1, f == 0 && compressed ? FrameHeader.Rsv1 : (byte)0);
                previous = cut;
                if (rng.Next(8) == 0)
                {
                    var payload = control[..rng.Next(0, 126)];
                    rng.NextBytes(payload);
                    Frame(rng.Next(2) == 0 ? Opcode.Ping : Opcode.Pong, payload, true);
                }
            }
            messages.Add((type, plain));
        }
        int? close = null;
        if (rng.Next(3) != 0)
        {
            close = rng.Next(2) == 0 ? 1000 : 4000 + rng.Next(1000);
            Frame(Opcode.Close, Frames.ClosePayload(close.Value, "bye"), true);
        }
        return new(bytes.WrittenSpan.ToArray(), messages, close);
    }

    /// <summary>Rewrites the length of the frame at the start to <paramref name="announced"/>, keeping the rest as payload.</summary>
    private static byte[] AnnounceLength(byte[] bytes, long announced, bool masked)
    {
        if (bytes.Length < 2) return bytes;
        int old = FrameHeader.TryParse(bytes, out var h) ? h.HeaderLength : 2;
        var header = new byte[FrameHeader.MaxLength];
        int n = FrameHeader.Write(header, (bytes[0] & 0x80) != 0, (byte)((bytes[0] >> 4) & 7), (Opcode)(bytes[0] & 0xF), announced, masked ? 0x01020304u : null);
        return [.. header.AsSpan(0, n), .. bytes.AsSpan(Math.Min(old, bytes.Length))];
    }

    [Theory]
    [InlineData(WebSocketRole.Server, false, 1)]
    [InlineData(WebSocketRole.Client, false, 2)]
    [InlineData(WebSocketRole.Server, true, 3)]
    [InlineData(WebSocketRole.Client, true, 4)]
    public void Random_and_mutated_streams_only_ever_give_events(WebSocketRole role, bool deflate, int seed)
    {
        var rng = new Random(seed);
        var outcomes = new Dictionary<string, int>();
        var sink = new ArrayBufferWriter<byte>();
        long inputBytes = 0, mostAllocated = 0;
        int iterations = Iterations, exact = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            var stream = Valid(rng, role, deflate);
            byte[] bytes;
            bool mutated = true;
            int style = rng.Next(20);
            if (style == 0) bytes = RandomBytes(rng);
            else if (style == 1) bytes = AnnounceLength(stream.Bytes, rng.Next(2) == 0 ? rng.NextInt64(8 << 20, 60 << 20) : rng.NextInt64(), role == WebSocketRole.Server);
            else if (style < 5) { bytes = stream.Bytes; mutated = false; }
            else bytes = FuzzInput.Mutate(rng, stream.Bytes);
            inputBytes += bytes.Length;

            var options = new WebSocketProtocolOptions
            {
                MaxMessageSize = rng.Next(2) == 0 ? SmallLimit : WebSocketProtocolOptions.DefaultMaxMessageSize,
                MaxFragments = rng.Next(2) == 0 ? 4 : WebSocketProtocolOptions.DefaultMaxFragments,
                ReceiveChunkSize = rng.Next(3) == 0 ? rng.Next(64, 2048) : null,
            };
            var compression = deflate ? (rng.Next(8) == 0 ? AgreedWithTakeover : Agreed) : null;
            var what = $"role {role} deflate {deflate} seed {seed} input {i}";
            long before = GC.GetAllocatedBytesForCurrentThread();
            string outcome;
            List<(Opcode, byte[])>? received = mutated ? null : [];
            try
            {
                outcome = Feed(rng, bytes, role, options, compression, sink, received, what);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{what}: {ex.GetType().Name} escaped: {ex.Message}\ninput {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 512)))}\n{ex.StackTrace}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            mostAllocated = Math.Max(mostAllocated, allocated);
            // Nothing a header announces is allocated ahead of its bytes: what is allocated follows what
            // came (inflation may multiply it, up to 1032-fold for deflate).
            long bound = (1 << 20) + 16L * bytes.Length + (deflate ? 1100L * bytes.Length : 0);
            Assert.True(allocated <= bound, $"{what}: {allocated} bytes allocated for {bytes.Length} input bytes");
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

            if (received is not null)
            {
                exact++;
                Assert.Equal(stream.Messages.Count, received.Count);
                for (int m = 0; m < received.Count; m++)
                {
                    Assert.Equal(stream.Messages[m].Type, received[m].Item1);
                    Assert.True(stream.Messages[m].Data.AsSpan().SequenceEqual(received[m].Item2), $"{what}: message {m} differs");
                }
                // §7.1.1: after the close the server ends input; the client waits for the server to close TCP.
                string ending = role == WebSocketRole.Server ? " ended" : "";
                Assert.Equal(stream.CloseCode is int c ? $"close {c}{ending}" : "more", outcome);
            }
        }
        clock.Stop();
        double rate = iterations / clock.Elapsed.TotalSeconds;
        output.WriteLine($"{role} deflate={deflate}: {iterations} inputs ({inputBytes / 1024} KiB, {exact} checked exactly) in {clock.ElapsedMilliseconds} ms = {rate:F0} inputs/s; most allocated by one input {mostAllocated} bytes");
        output.WriteLine("outcomes: " + string.Join(", ", outcomes.OrderByDescending(o => o.Value).Take(16).Select(o => $"{o.Key}×{o.Value}")));
        // Only worth its time if it reaches the failure paths and the skipping after them.
        Assert.Contains(outcomes.Keys, k => k.StartsWith("fail 1002"));
        Assert.Contains(outcomes.Keys, k => k.StartsWith("fail 1009"));
        Assert.Contains(outcomes.Keys, k => k.StartsWith("fail 1007"));
        Assert.Contains(outcomes.Keys, k => k.EndsWith("ended"));
    }

    private static readonly byte[][] TextPieces = [.. new[] { "a", "Z", " ", "é", "€", "中", "😀", "\u0080", "\u07FF", "\u0800", "\uFFFD", "\U0010FFFF" }.Select(System.Text.Encoding.UTF8.GetBytes)];

    /// <summary>Valid UTF-8 of about <paramref name="size"/> bytes, in one pass (FuzzInput's re-encodes as it grows).</summary>
    private static byte[] RandomText(Random rng, int size)
    {
        var text = new byte[size + 4];
        int length = 0;
        while (length < size)
        {
            var piece = TextPieces[rng.Next(TextPieces.Length)];
            piece.CopyTo(text, length);
            length += piece.Length;
        }
        return text[..length];
    }

    private static byte[] RandomBytes(Random rng)
    {
        var bytes = new byte[rng.Next(0, 300)];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Feeds <paramref name="bytes"/> in random deliveries, as a driver would: handing back what the
    /// protocol left, answering pings and closes. Returns how it ended: "close N", "fail N[ ended]",
    /// "ended", or "more" (it waits for bytes).
    /// </summary>
    private static string Feed(Random rng, byte[] bytes, WebSocketRole role, WebSocketProtocolOptions options, PerMessageDeflateParameters? compression,
        ArrayBufferWriter<byte> sink, List<(Opcode, byte[])>? received, string what)
    {
        using var protocol = new WebSocketProtocol(role, options, compression);
        var message = received is null ? null : new List<byte>();
        string outcome = "more";
        int consumed = 0, available = 0, events = 0;
        long messageLength = 0;
        bool ended = false;
        while (!ended && (available < bytes.Length || consumed < available))
        {
            int step = rng.Next(4) switch { 0 => 1, 1 => rng.Next(1, 16), 2 => rng.Next(1, 512), _ => bytes.Length };
            available = Math.Min(bytes.Length, available + step);
            var input = new ReadOnlySequence<byte>(bytes, consumed, available - consumed);
            while (true)
            {
                Assert.True(++events < 1_000_000, $"{what}: the protocol keeps reporting without consuming");
                var e = protocol.Receive(ref input);
                Assert.True(Enum.IsDefined(e), $"{what}: undefined event {e}");
                if (e == WebSocketEvent.NeedMoreData) break;
                switch (e)
                {
                    case WebSocketEvent.Message:
                    case WebSocketEvent.MessagePart:
                        var data = protocol.TakeMessage(out int length);
                        messageLength += length;
                        Assert.True(messageLength <= options.MaxMessageSize, $"{what}: {messageLength} bytes delivered over the {options.MaxMessageSize} limit");
                        message?.AddRange(data.AsSpan(0, length).ToArray());
                        if (data is not null) ArrayPool<byte>.Shared.Return(data);
                        if (e == WebSocketEvent.Message)
                        {
                            if (message is not null)
                            {
                                received!.Add((protocol.MessageOpcode, [.. message]));
                                message.Clear();
                            }
                            messageLength = 0;
                        }
                        break;
                    case WebSocketEvent.Ping:
                        sink.ResetWrittenCount();
                        protocol.WritePong(sink, protocol.ControlPayload);
                        break;
                    case WebSocketEvent.Close:
                        Assert.True(protocol.PeerCloseStatus is CloseStatus s && (s == CloseStatus.NoStatusReceived || CloseStatusRules.IsValidOnWire((int)s)), what);
                        outcome = $"close {(int)protocol.PeerCloseStatus!.Value}";
                        sink.ResetWrittenCount();
                        protocol.WriteCloseReply(sink);
                        Assert.Equal(WebSocketProtocolState.Closed, protocol.State);
                        break;
                    case WebSocketEvent.Failure:
                        Assert.True(protocol.Error.Status is CloseStatus.ProtocolError or CloseStatus.InvalidPayloadData or CloseStatus.PolicyViolation or CloseStatus.MessageTooBig,
                            $"{what}: failure with {protocol.Error}");
                        Assert.Equal(WebSocketProtocolState.Failing, protocol.State);
                        Assert.True(outcome == "more", $"{what}: a failure after {outcome}");
                        outcome = $"fail {(int)protocol.Error.Status}";
                        messageLength = 0;
                        sink.ResetWrittenCount();
                        Assert.True(protocol.WriteClose(sink, protocol.Error.Status, protocol.Error.Reason));
                        break;
                    case WebSocketEvent.InputEnded:
                        outcome = outcome == "more" ? "ended" : outcome + " ended";
                        ended = true;
                        break;
                }
                if (ended) break;
            }
            consumed = available - (int)input.Length;
            Assert.True(consumed >= 0, what);
            // Only a header or a control frame is handed back, or a whole frame skipped after a failure.
            Assert.True(available - consumed <= FrameHeader.MaxLength + 125 || protocol.State is WebSocketProtocolState.Failing or WebSocketProtocolState.Closed,
                $"{what}: {available - consumed} bytes handed back");
            if (available == bytes.Length && consumed < available && input.Length > 0) break;   // the rest waits for bytes that never come
        }
        return outcome;
    }
}
