using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// RFC 6455 §7.1.7, "Fail the WebSocket Connection", and what Duplex reads afterwards: it sends its
    /// close and then skips the peer's bytes, unprocessed, until the peer's close frame (the rest of the
    /// failed frame first), ending input early at a frame over 1 MiB or one that cannot be a frame.
    /// </summary>
    public class Failing
    {
        public static TheoryData<string, byte[], int> ProtocolErrors()
        {
            var data = new TheoryData<string, byte[], int>
            {
                { "unmasked client frame", Frames.Client(Opcode.Text, "x"u8, masked: false), 1002 },
                { "rsv1 without extension", Frames.Client(Opcode.Text, "x"u8, rsv: FrameHeader.Rsv1), 1002 },
                { "rsv3 without extension", Frames.Client(Opcode.Binary, "x"u8, rsv: FrameHeader.Rsv3), 1002 },
                { "reserved opcode 3", Frames.Build(3, "x"u8, true, 0, true, Frames.DefaultKey, 1), 1002 },
                { "reserved opcode 0xB", Frames.Build(0xB, "x"u8, true, 0, true, Frames.DefaultKey, 1), 1002 },
                { "ping over 125 bytes", Frames.Client(Opcode.Ping, new byte[126]), 1002 },
                { "fragmented ping", Frames.Client(Opcode.Ping, "x"u8, fin: false), 1002 },
                { "continuation without message", Frames.Client(Opcode.Continuation, "x"u8), 1002 },
                { "new data frame in fragmented message", Frames.Concat(Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(Opcode.Text, "b")), 1002 },
                { "64-bit length with top bit", Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, unchecked((long)0x8000_0000_0000_0000UL)), 1002 },
                { "message over max size", Frames.Client(Opcode.Binary, new byte[1025]), 1009 },
                { "fragments over max size", Frames.Concat(Frames.Client(Opcode.Binary, new byte[600], fin: false), Frames.Client(Opcode.Continuation, new byte[600])), 1009 },
                { "invalid utf-8", Frames.Client(Opcode.Text, [0x68, 0x69, 0xED, 0xA0, 0x80]), 1007 },
                { "text ending mid-sequence", Frames.Client(Opcode.Text, [0x68, 0xE2, 0x82]), 1007 },
                { "1-byte close payload", Frames.Client(Opcode.Close, [0x03]), 1002 },
                { "close code 1005 on the wire", Frames.ClientClose(1005), 1002 },
                { "close code 999", Frames.ClientClose(999), 1002 },
                { "close code 5000", Frames.ClientClose(5000), 1002 },
                { "close reason not utf-8", Frames.Client(Opcode.Close, [0x03, 0xE8, 0xFF, 0xFE]), 1007 },
            };
            var parts = new List<byte[]> { Frames.Client(Opcode.Binary, [], fin: false) };
            for (int i = 0; i < 4; i++) parts.Add(Frames.Client(Opcode.Continuation, [], fin: false));
            data.Add("too many fragments", Frames.Concat([.. parts]), 1008);
            return data;
        }

        [Theory]
        [MemberData(nameof(ProtocolErrors))]
        public void Fails_with_the_code_that_names_the_error_and_ends_once_the_peer_answers(string why, byte[] wire, int code)
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 1024, maxFragments: 4));
            var events = h.ReceiveInEverySplit(wire);
            Assert.True(events.All(e => e.Kind is WebSocketEvent.Failure or WebSocketEvent.InputEnded), $"{why}: {Kinds(events)}");
            h.AssertConnectionFailing(events, (CloseStatus)code);
            // The peer answers our close, as a well-behaved one would; then input is over. (A length
            // that cannot be a frame ended it already: the answer would not be found behind it.)
            bool endedEarly = h.InputEnded;
            h.Receive(Frames.ClientClose(code is 1002 or 1007 ? 1000 : code));
            Assert.True(h.InputEnded, why);
            if (!endedEarly) Assert.Equal(WebSocketProtocolState.Closed, h.State);
            Assert.Equal((CloseStatus)code, h.Protocol.Error.Status);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Stops_processing_frames_after_a_failure(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var events = h.ReceiveInEverySplit(Frames.Concat(
                h.PeerFrame(Opcode.Continuation, "bad"), h.PeerFrame(Opcode.Text, "never"), h.PeerFrame(Opcode.Ping, "never"), h.PeerFrame(Opcode.Text, [0xFF])));
            Assert.Equal("Failure", Kinds(events));
            Assert.Equal(CloseStatus.ProtocolError, h.Protocol.Error.Status);   // not 1007 from the last frame
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
        }

        [Fact]
        public void Server_ends_input_at_the_peers_close_after_a_failure_without_reporting_it()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(Frames.Client(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);
            Assert.Equal(WebSocketProtocolState.Failing, h.State);
            var events = h.ReceiveInEverySplit(Frames.ClientClose(1000));
            Assert.Equal("InputEnded", Kinds(events));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            Assert.Null(h.Protocol.PeerCloseStatus);   // the peer's close was skipped over, not read
        }

        [Fact]
        public void Client_reads_on_after_the_servers_answer_to_its_failure()
        {
            using var h = ProtocolHarness.Client();
            h.AssertConnectionFailing(h.Receive(Frames.Server(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);
            Assert.Empty(h.ReceiveInEverySplit(Frames.Concat(Frames.Server(Opcode.Close, Frames.ClosePayload(1002)), Frames.Server(Opcode.Text, "x"u8))));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            Assert.False(h.InputEnded);
            Assert.Equal(0, h.Buffered);
        }

        [Fact]
        public void Skips_the_rest_of_the_failed_frame_and_then_sees_the_peers_close()
        {
            // 1007 is found 6 bytes into a 200-byte text frame. The rest of that frame is not a frame
            // header: it is skipped as payload, and the peer's close frame after it is seen.
            var payload = new byte[200];
            payload.AsSpan().Fill((byte)'a');
            payload[5] = 0xC0;
            var frame = Frames.Client(Opcode.Text, payload);
            int header = 2 + 2 + 4;
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(frame.AsSpan(0, header + 10)), CloseStatus.InvalidPayloadData);
            var events = h.ReceiveInEverySplit(Frames.Concat(frame[(header + 10)..], Frames.ClientClose(1000)));
            Assert.Equal("InputEnded", Kinds(events));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            Assert.Equal(CloseStatus.InvalidPayloadData, h.Protocol.Error.Status);
        }

        [Fact]
        public void A_close_frame_where_the_failed_frames_payload_would_go_ends_the_skipping()
        {
            // Some peers (Autobahn's fuzzer) answer our close at once, abandoning the frame they were
            // sending: 190 payload bytes of the failed frame never come.
            var payload = new byte[200];
            payload.AsSpan().Fill((byte)'a');
            payload[5] = 0xC0;
            var frame = Frames.Client(Opcode.Text, payload);
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(frame.AsSpan(0, 8 + 10)), CloseStatus.InvalidPayloadData);
            Assert.Equal("InputEnded", Kinds(h.Receive(Frames.ClientClose(1000))));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void A_close_frame_masked_the_wrong_way_does_not_end_the_skipping_of_a_failed_frame()
        {
            var payload = new byte[200];
            payload[5] = 0xC0;
            var frame = Frames.Client(Opcode.Text, payload);
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(frame.AsSpan(0, 8 + 10)), CloseStatus.InvalidPayloadData);
            // An unmasked close is not what a client would send: it is taken for payload.
            Assert.Empty(h.Receive(Frames.Server(Opcode.Close, Frames.ClosePayload(1000))));
            Assert.False(h.InputEnded);
            Assert.Equal(WebSocketProtocolState.Failing, h.State);
        }

        [Fact]
        public void Skipping_a_failed_frame_ends_where_a_delivery_starts_with_bytes_that_look_like_a_close_frame()
        {
            // The heuristic above looks only at the start of each delivery: payload bytes that happen to
            // read as a masked close frame end the skipping when a delivery begins with them, and are
            // skipped as payload when they come inside one. Pinned so a change to it is deliberate.
            var payload = new byte[200];
            payload[5] = 0xC0;
            var frame = Frames.Client(Opcode.Text, payload);
            Hex("88 80 00 00 00 00").CopyTo(frame, 8 + 100);   // a masked, empty close, as wire bytes
            var rest = frame[(8 + 100)..];

            using var atBoundary = ProtocolHarness.Server();
            atBoundary.Receive(frame.AsSpan(0, 8 + 100));
            Assert.Equal("InputEnded", Kinds(atBoundary.Receive(rest)));

            using var inside = ProtocolHarness.Server();
            inside.Receive(frame.AsSpan(0, 8 + 99));
            Assert.Empty(inside.Receive(rest.Prepend(frame[8 + 99]).ToArray()));
            Assert.False(inside.InputEnded);
        }

        [Fact]
        public void Skips_whole_frames_of_every_kind_until_the_peers_close()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(Frames.Client(Opcode.Text, [0xFF])), CloseStatus.InvalidPayloadData);
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, "skipped"), Frames.Client(Opcode.Ping, "skipped"), Frames.Client(Opcode.Binary, new byte[70_000]),
                Frames.Client(Opcode.Text, "not", fin: false), Frames.Client(Opcode.Text, "judged either"u8, rsv: FrameHeader.Rsv2),
                Frames.Build(0xB, "reserved"u8, true, 0, true, Frames.DefaultKey, 8)));
            Assert.Empty(events);
            Assert.Equal(WebSocketProtocolState.Failing, h.State);
            Assert.Equal("InputEnded", Kinds(h.Receive(Frames.ClientClose(1000))));
        }

        [Fact]
        public void A_frame_over_1_MiB_while_skipping_ends_input()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(Frames.Client(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);
            var header = Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, (1 << 20) + 1);
            var events = h.ReceiveInEverySplit(header);   // the header alone decides: no payload byte is waited for
            Assert.Equal("InputEnded", Kinds(events));
            Assert.Equal(WebSocketProtocolState.Failing, h.State);   // our close is out, the peer's never came
        }

        [Fact]
        public void A_frame_of_exactly_1_MiB_while_skipping_is_skipped()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(Frames.Client(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);
            Assert.Empty(h.Receive(Frames.Client(Opcode.Binary, new byte[1 << 20])));
            Assert.Equal("InputEnded", Kinds(h.Receive(Frames.ClientClose(1000))));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void A_frame_length_with_the_top_bit_set_while_skipping_ends_input()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.Receive(Frames.Client(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);
            var events = h.ReceiveInEverySplit(Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, long.MinValue));
            Assert.Equal("InputEnded", Kinds(events));
        }

        [Fact]
        public void A_huge_frame_that_failed_the_connection_ends_input_at_once()
        {
            // The 1009 frame's own header is where skipping starts: far over 1 MiB, nothing more is read.
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 1024));
            var events = h.ReceiveInEverySplit(Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, 10L << 30));
            Assert.Equal("Failure InputEnded", Kinds(events));
            Assert.Equal(CloseStatus.MessageTooBig, events[0].Status);
        }

        [Fact]
        public void Keeps_the_messages_that_came_before_the_failure()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "first"), Frames.Client(Opcode.Ping, "p"), Frames.Client(Opcode.Continuation, "x")));
            Assert.Equal("Message Ping Failure", Kinds(events));
            AssertMessage(events[0], Opcode.Text, "first");
        }

        [Fact]
        public void Failing_by_the_caller_drops_the_message_in_assembly_and_skips_to_the_peers_close()
        {
            using var h = ProtocolHarness.Server();
            Assert.Empty(h.Receive(Frames.Concat(Frames.Client(Opcode.Text, "half a mess", fin: false), Frames.Client(Opcode.Continuation, "age", fin: false)[..9])));
            h.Fail(new ProtocolError(CloseStatus.PolicyViolation, "rate limit"));
            Assert.Equal(WebSocketProtocolState.Failing, h.State);
            Assert.Null(h.Protocol.TakeMessage(out _));
            Assert.True(h.WriteClose(h.Protocol.Error.Status, h.Protocol.Error.Reason));
            h.AssertCloseSent(1008, "rate limit");

            // The rest of the frame in progress, a whole message, then the peer's answer.
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Continuation, "age", fin: false)[9..], Frames.Client(Opcode.Text, "dropped"), Frames.ClientClose(1008)));
            Assert.Equal("InputEnded", Kinds(events));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void Failing_again_keeps_the_first_error()
        {
            using var h = ProtocolHarness.Server();
            h.Receive(Frames.Client(Opcode.Text, [0xFF]));
            h.Fail(new ProtocolError(CloseStatus.PolicyViolation, "later"));
            Assert.Equal(CloseStatus.InvalidPayloadData, h.Protocol.Error.Status);
        }

        [Fact]
        public void Failing_after_the_peers_close_waits_for_nothing_more()
        {
            using var h = ProtocolHarness.Client();
            Assert.Equal("Close", Kinds(h.Receive(Frames.Server(Opcode.Close, Frames.ClosePayload(1000)))));
            h.Fail(new ProtocolError(CloseStatus.InternalServerError, "gave up"));
            Assert.Equal(WebSocketProtocolState.Failing, h.State);
            Assert.Empty(h.Receive(Frames.Server(Opcode.Text, "ignored"u8)));
            Assert.True(h.WriteClose(h.Protocol.Error.Status));
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void A_malformed_close_frame_fails_the_connection_and_counts_as_the_peers_close()
        {
            // A fragmented close is a protocol error (§5.5), but skipping starts at its own header, which
            // is a close frame: the peer is taken to have closed, and the server ends input at once.
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Close, Frames.ClosePayload(1000), fin: false));
            Assert.Equal("Failure InputEnded", Kinds(events));
        }
    }
}
