using System.Buffers;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;

namespace Duplex.Fuzz;

/// <summary>
/// The WebSocket protocol state machine (<see cref="WebSocketProtocol"/>: FrameReader, message assembly,
/// UTF-8 validation, the inflater, the close handshake), driven as <see cref="WebSocketConnection"/>'s receive
/// loop drives it over a pipe: the input is the peer's byte stream, arriving in chunks, what is left unused
/// handed back with the next chunk; pings answered, a close replied to, a failure answered with a close frame.
/// <para>Input: byte 0 the configuration, byte 1 the chunk size (0: all at once), then the peer's bytes.
/// Configuration bits: 0 client role (unmasked frames expected; else server, masked), 1 permessage-deflate,
/// 2 server_no_context_takeover, 3 client_no_context_takeover, 4–5 window bits (15, 8, 9, 12),
/// 6 ReceiveChunkSize 100 (messages in parts), 7 small limits (1 KiB messages, 8 fragments).</para>
/// <para>Documented outcomes: every event, <see cref="WebSocketEvent.Failure"/> with a close code included;
/// <see cref="WebSocketProtocol.Receive"/> throws nothing. Checked: whole text messages are valid UTF-8 and
/// within the size limit, control payloads at most 125 bytes, at most an incomplete header or control frame is
/// kept between reads, and every call makes progress.</para>
/// </summary>
public static class WebSocketTarget
{
    private static readonly int[] WindowBits = [15, 8, 9, 12];

    /// <summary>An incomplete header (at most 14 bytes) or control frame (header and 125 bytes).</summary>
    private const int MaxKept = 14 + 125;

    /// <summary>A frame skipped after a failure: 14 header bytes and at most 1 MiB (WebSocketProtocol.MaxDiscardedFrame).</summary>
    private const int MaxSkipped = 14 + (1 << 20);

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return;
        byte config = input[0];
        int chunk = input[1] == 0 ? int.MaxValue : input[1];
        var peerBytes = input[2..];

        var role = (config & 1) != 0 ? WebSocketRole.Client : WebSocketRole.Server;
        PerMessageDeflateParameters? compression = null;
        if ((config & 2) != 0)
        {
            int bits = WindowBits[(config >> 4) & 3];
            compression = new PerMessageDeflateParameters((config & 4) != 0, (config & 8) != 0, bits, bits);
        }
        bool small = (config & 0x80) != 0;
        var options = new WebSocketProtocolOptions
        {
            MaxMessageSize = small ? 1024 : 1024 * 1024,
            MaxFragments = small ? 8 : WebSocketProtocolOptions.DefaultMaxFragments,
            ReceiveChunkSize = (config & 0x40) != 0 ? 100 : null,
        };

        using var protocol = new WebSocketProtocol(role, options, compression);
        var output = new ArrayBufferWriter<byte>(256);
        var message = new ArrayBufferWriter<byte>(256);
        byte[] kept = [];
        // Every call uses bytes or reports an event. Events without a byte used between them are bounded:
        // the parts of one inflated message (size limit / chunk size) and a few around them.
        long maxIdleEvents = options.MaxMessageSize / 100 + 16;
        bool ended = false;
        for (int offset = 0; offset < peerBytes.Length && !ended; offset += chunk)
        {
            var arrived = peerBytes.Slice(offset, Math.Min(chunk, peerBytes.Length - offset)).ToArray();
            var buffer = Sequence(kept, arrived);
            long idle = 0;
            while (true)
            {
                long before = buffer.Length;
                var ev = protocol.Receive(ref buffer);
                idle = buffer.Length == before ? idle + 1 : 0;
                if (idle > maxIdleEvents) throw new FuzzInvariantException($"{idle} events without a byte used: Receive makes no progress");
                output.Clear();
                switch (ev)
                {
                    case WebSocketEvent.NeedMoreData:
                        break;
                    case WebSocketEvent.Message or WebSocketEvent.MessagePart:
                        var array = protocol.TakeMessage(out int length);
                        if (array is not null)
                        {
                            message.Write(array.AsSpan(0, length));
                            ArrayPool<byte>.Shared.Return(array);
                        }
                        if (ev == WebSocketEvent.MessagePart && options.ReceiveChunkSize is null)
                            throw new FuzzInvariantException("a message part without ReceiveChunkSize");
                        if (message.WrittenCount > options.MaxMessageSize)
                            throw new FuzzInvariantException($"a message of {message.WrittenCount} bytes passed the {options.MaxMessageSize} limit");
                        if (ev == WebSocketEvent.Message)
                        {
                            if (protocol.MessageOpcode == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(message.WrittenSpan))
                                throw new FuzzInvariantException("a text message that is not UTF-8 was delivered");
                            message.Clear();
                        }
                        continue;
                    case WebSocketEvent.Ping:
                        CheckControl(protocol);
                        protocol.WritePong(output, protocol.ControlPayload);
                        continue;
                    case WebSocketEvent.Pong:
                        CheckControl(protocol);
                        continue;
                    case WebSocketEvent.Close:
                        CheckControl(protocol);
                        if (protocol.PeerCloseStatus is null || protocol.PeerCloseReason is null)
                            throw new FuzzInvariantException("Close without the peer's status");
                        protocol.WriteCloseReply(output);
                        continue;
                    case WebSocketEvent.Failure:
                        if (protocol.State != WebSocketProtocolState.Failing && protocol.State != WebSocketProtocolState.Closed)
                            throw new FuzzInvariantException($"Failure in state {protocol.State}");
                        message.Clear();
                        protocol.WriteClose(output, protocol.Error.Status, protocol.Error.Reason);
                        continue;
                    case WebSocketEvent.InputEnded:
                        ended = true;
                        break;
                    default:
                        throw new FuzzInvariantException($"unknown event {ev}");
                }
                break;
            }
            // Once failed, the protocol skips the peer's frames whole, up to 1 MiB each (it ends input at a larger one).
            long maxKept = protocol.State is WebSocketProtocolState.Failing ? MaxSkipped : MaxKept;
            if (buffer.Length > maxKept && !ended)
                throw new FuzzInvariantException($"{buffer.Length} bytes kept between reads in state {protocol.State}");
            kept = buffer.ToArray();
        }
    }

    private static void CheckControl(WebSocketProtocol protocol)
    {
        if (protocol.ControlPayload.Length > 125) throw new FuzzInvariantException("a control payload over 125 bytes");
    }

    /// <summary>What a pipe hands over: the bytes kept from the last read, then the new ones, as two segments.</summary>
    internal static ReadOnlySequence<byte> Sequence(byte[] first, byte[] second)
    {
        if (first.Length == 0) return new ReadOnlySequence<byte>(second);
        if (second.Length == 0) return new ReadOnlySequence<byte>(first);
        var head = new Segment(first, 0);
        var tail = head.Append(second);
        return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
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
}
