using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>RFC 6455 §5.6 data frames, §5.2 reserved bits and lengths, §8.1 UTF-8 of text (failing fast).</summary>
    public class DataFrames
    {
        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Reads_text_binary_and_empty_messages(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var binary = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
            var events = h.ReceiveInEverySplit(Frames.Concat(
                h.PeerFrame(Opcode.Text, "Hello, wörld"), h.PeerFrame(Opcode.Binary, binary), h.PeerFrame(Opcode.Text, ""), h.PeerFrame(Opcode.Binary, [])));
            Assert.Equal(4, events.Count);
            AssertMessage(events[0], Opcode.Text, "Hello, wörld");
            AssertMessage(events[1], Opcode.Binary, binary);
            AssertMessage(events[2], Opcode.Text, "");
            AssertMessage(events[3], Opcode.Binary, []);
        }

        [Fact]
        public void Client_reads_the_rfc_example_hello()
        {
            using var h = ProtocolHarness.Client();
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex("81 05 48 65 6c 6c 6f"))), Opcode.Text, "Hello");
        }

        [Fact]
        public void Reads_16_and_64_bit_payload_lengths()
        {
            using var h = ProtocolHarness.Client();
            var medium = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();   // 7e 01 00
            var large = new byte[65536];                                            // 7f 00 00 00 00 00 01 00 00
            new Random(5).NextBytes(large);
            var wire = Frames.Concat(Hex("82 7e 01 00"), medium, Hex("82 7f 00 00 00 00 00 01 00 00"), large);
            var events = h.Receive(wire);
            AssertMessage(events[0], Opcode.Binary, medium);
            AssertMessage(events[1], Opcode.Binary, large);
        }

        [Fact]
        public void An_empty_message_takes_no_buffer()
        {
            using var h = ProtocolHarness.Server();
            var input = new System.Buffers.ReadOnlySequence<byte>(Frames.Client(Opcode.Binary, []));
            Assert.Equal(WebSocketEvent.Message, h.Protocol.Receive(ref input));
            Assert.Null(h.Protocol.TakeMessage(out int length));
            Assert.Equal(0, length);
        }

        [Theory]
        [InlineData(FrameHeader.Rsv1)]
        [InlineData(FrameHeader.Rsv2)]
        [InlineData(FrameHeader.Rsv3)]
        [InlineData(FrameHeader.Rsv1 | FrameHeader.Rsv2 | FrameHeader.Rsv3)]
        public void Fails_rsv_bits_without_a_negotiated_extension_with_1002(byte rsv)
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Text, "x"u8, rsv: rsv)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_a_64_bit_length_with_its_top_bit_set_with_1002()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: WebSocketProtocolOptions.MaxMessageSizeLimit));
            var events = h.ReceiveInEverySplit(Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, unchecked((long)0x8000_0000_0000_0001UL)));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Fails_invalid_utf8_text_with_1007(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(h.PeerFrame(Opcode.Text, [0x61, 0xC0, 0xAF])), CloseStatus.InvalidPayloadData);
        }

        [Theory]
        [InlineData("ed a0 80")]      // a UTF-16 surrogate
        [InlineData("f4 90 80 80")]   // past U+10FFFF
        [InlineData("e0 80 80")]      // overlong
        [InlineData("80")]            // a lone continuation byte
        [InlineData("fe")]
        public void Fails_text_that_is_not_utf8_with_1007(string hex)
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Text, Hex("68 69 " + hex))), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Fails_text_ending_inside_a_utf8_sequence_with_1007()
        {
            using var h = ProtocolHarness.Server();
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Text, [0x61, 0xE2, 0x82])), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Accepts_a_utf8_sequence_split_across_fragments()
        {
            var euro = "€"u8.ToArray();
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, euro.AsSpan(0, 1), fin: false),
                Frames.Client(Opcode.Continuation, euro.AsSpan(1, 1), fin: false),
                Frames.Client(Opcode.Continuation, euro.AsSpan(2, 1))));
            AssertMessage(Assert.Single(events), Opcode.Text, "€");
        }

        [Fact]
        public void Fails_a_fragment_ending_the_message_inside_a_utf8_sequence_with_1007()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(Opcode.Continuation, [0xF0, 0x9F, 0x98])));
            h.AssertConnectionFailing(events, CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Does_not_validate_binary_messages_as_utf8()
        {
            using var h = ProtocolHarness.Server();
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Frames.Client(Opcode.Binary, [0xFF, 0xC0, 0xED, 0xA0, 0x80]))), Opcode.Binary, [0xFF, 0xC0, 0xED, 0xA0, 0x80]);
        }

        [Fact]
        public void Resets_the_utf8_state_between_messages()
        {
            // A text message that ended validly leaves no sequence "in progress" for the next one.
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "é"), Frames.Client(Opcode.Text, "a")));
            Assert.Equal("Message Message", Kinds(events));
        }

        [Fact]
        public void Validates_utf8_of_text_but_not_of_control_frames_between_its_fragments()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, [0xE2], fin: false),
                Frames.Client(Opcode.Ping, [0xFF, 0xFF]),
                Frames.Client(Opcode.Continuation, [0x82, 0xAC])));
            Assert.Equal("Ping Message", Kinds(events));
            AssertMessage(events[1], Opcode.Text, "€");
        }

        [Fact]
        public void Fails_fast_on_invalid_utf8_before_the_rest_of_the_frame_arrives()
        {
            // A 1 MiB text frame of which only 10 bytes have arrived, the 4th invalid: 1007 now (§8.1),
            // not after a megabyte more.
            var payload = new byte[1 << 20];
            payload.AsSpan().Fill((byte)'a');
            payload[3] = 0xFF;
            var frame = Frames.Client(Opcode.Text, payload);
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 2 << 20));
            h.AssertConnectionFailing(h.ReceiveInEverySplit(frame[..(14 + 10)]), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Fails_fast_at_the_invalid_byte_when_fed_byte_by_byte()
        {
            var payload = Encoding.UTF8.GetBytes(new string('a', 5000));
            payload[100] = 0xC0;
            var frame = Frames.Client(Opcode.Text, payload);
            using var h = ProtocolHarness.Server();
            int delivered = 0;
            List<ProtocolEvent> events = [];
            while (events.Count == 0 && delivered < frame.Length) events = h.Receive(frame.AsSpan(delivered++, 1));
            Assert.Equal(WebSocketEvent.Failure, events[0].Kind);
            Assert.Equal(CloseStatus.InvalidPayloadData, events[0].Status);
            // 0xC0 can start nothing valid: the failure comes with the byte, 4 + 4 header bytes and 101 payload bytes in.
            Assert.Equal(4 + 4 + 101, delivered);
        }

        [Fact]
        public void Fails_fast_when_the_byte_after_a_lead_byte_cannot_continue_it()
        {
            var frame = Frames.Client(Opcode.Text, Hex("61 e2 41 61 61 61 61 61"));
            using var h = ProtocolHarness.Server();
            Assert.Empty(h.Receive(frame.AsSpan(0, 6 + 2)));
            var events = h.Receive(frame.AsSpan(8, 1));   // "A" cannot continue E2
            Assert.Equal(CloseStatus.InvalidPayloadData, Assert.Single(events).Status);
        }

        [Fact]
        public void Writes_lone_surrogates_as_replacement_characters()
        {
            using var h = ProtocolHarness.Server();
            Assert.Equal(5, h.Protocol.WriteText(h.Output, "a\uD800b"));
            h.AssertFrameSent(Opcode.Text, [0x61, 0xEF, 0xBF, 0xBD, 0x62]);
        }

        [Theory]
        [InlineData(0)]
        [InlineData(125)]
        [InlineData(126)]
        [InlineData(16 * 1024)]
        [InlineData(16 * 1024 + 1)]
        [InlineData(70_000)]
        public void Writes_text_of_any_length_with_the_minimal_length_encoding(int length)
        {
            using var h = ProtocolHarness.Server();
            var text = new string('€', length / 3) + new string('x', length % 3);
            Assert.Equal(length, h.Protocol.WriteText(h.Output, text));
            var header = h.Output.WrittenSpan[1] & 0x7F;
            Assert.Equal(length < 126 ? length : length <= ushort.MaxValue ? 126 : 127, header);
            Assert.Equal(text, h.AssertFrameSent(Opcode.Text, Encoding.UTF8.GetBytes(text)).Text);
        }

        [Theory]
        [InlineData(Opcode.Continuation)]
        [InlineData(Opcode.Ping)]
        [InlineData(Opcode.Close)]
        public void Refuses_to_write_a_message_of_a_non_data_opcode(Opcode opcode)
        {
            using var h = ProtocolHarness.Server();
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Protocol.WriteMessage(h.Output, opcode, []));
            h.AssertNothingSent();
        }
    }
}
