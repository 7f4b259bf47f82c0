using System.Buffers;
using System.Text;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// RFC 7692, permessage-deflate: RSV1 marks the first frame of a compressed message (§6), inflation
    /// with the 00 00 FF FF tail put back (§7.2.2), UTF-8 of the inflated text, the size limit on what
    /// inflates (a bomb stops at the limit with 1009), context takeover (§7.1.1) and what we send.
    /// </summary>
    public class PerMessageDeflate
    {
        private static readonly PerMessageDeflateParameters Takeover = new(false, false, 15, 15);
        private static readonly PerMessageDeflateParameters NoTakeover = new(true, true, 15, 15);

        private static byte[] Compress(ReadOnlySpan<byte> payload)
        {
            using var deflater = new MessageDeflater(15, noContextTakeover: true);
            var output = new ArrayBufferWriter<byte>();
            deflater.CompressMessage(payload, output);
            return output.WrittenSpan.ToArray();
        }

        [Theory]
        [InlineData("c1 07 f2 48 cd c9 c9 07 00")]                     // §7.2.3.1
        [InlineData("41 03 f2 48 cd 80 04 c9 c9 07 00")]               // §7.2.3.1, in two fragments
        [InlineData("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00")]         // §7.2.3.3, a stored block
        [InlineData("c1 08 f3 48 cd c9 c9 07 00 00")]                  // §7.2.3.4, BFINAL set
        public void Client_inflates_the_rfc_examples_of_hello(string hex)
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex(hex))), Opcode.Text, "Hello");
        }

        [Fact]
        public void Server_inflates_a_masked_compressed_message_with_control_frames_between_its_fragments()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, Hex("f2 48 cd"), fin: false, rsv: FrameHeader.Rsv1),
                Frames.Client(Opcode.Ping, "p"u8),
                Frames.Client(Opcode.Continuation, Hex("c9 c9 07 00"))));
            Assert.Equal("Ping Message", Kinds(events));
            AssertMessage(events[1], Opcode.Text, "Hello");
        }

        [Fact]
        public void Reads_an_uncompressed_message_on_a_deflate_connection_as_it_is()
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            var events = h.ReceiveInEverySplit(Hex("81 05 48 65 6c 6c 6f 82 02 f2 48"));
            AssertMessage(events[0], Opcode.Text, "Hello");
            AssertMessage(events[1], Opcode.Binary, Hex("f2 48"));
        }

        [Fact]
        public void Inflates_an_empty_compressed_message()
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex("c1 01 00"))), Opcode.Text, "");
        }

        [Fact]
        public void Inflates_a_second_message_that_refers_back_into_the_first_with_context_takeover()
        {
            // §7.2.3.2: the second "Hello" is a back-reference into the first message.
            using var h = ProtocolHarness.Client(compression: Takeover);
            var events = h.ReceiveInEverySplit(Hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"));
            AssertMessage(events[0], Opcode.Text, "Hello");
            AssertMessage(events[1], Opcode.Text, "Hello");
        }

        [Fact]
        public void Fails_a_back_reference_into_an_earlier_message_when_the_peer_agreed_to_reset_its_context()
        {
            using var h = ProtocolHarness.Client(compression: new(ServerNoContextTakeover: true, false, 15, 15));
            var events = h.ReceiveInEverySplit(Hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"));
            AssertMessage(events[0], Opcode.Text, "Hello");
            h.AssertConnectionFailing(events, CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Fails_rsv1_on_a_continuation_frame_with_1002()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, Hex("f2 48 cd"), fin: false, rsv: FrameHeader.Rsv1),
                Frames.Client(Opcode.Continuation, Hex("c9 c9 07 00"), rsv: FrameHeader.Rsv1)));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
        }

        [Theory]
        [InlineData(FrameHeader.Rsv2)]
        [InlineData(FrameHeader.Rsv3)]
        [InlineData(FrameHeader.Rsv1 | FrameHeader.Rsv2)]
        public void Fails_rsv2_and_rsv3_with_1002_though_deflate_was_agreed(byte rsv)
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Server(Opcode.Binary, Hex("f2 48 cd c9 c9 07 00"), rsv: rsv)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_rsv1_on_a_close_frame_with_1002()
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Server(Opcode.Close, Frames.ClosePayload(1000), rsv: FrameHeader.Rsv1)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_an_invalid_deflate_stream_with_1007()
        {
            using var h = ProtocolHarness.Client(compression: Takeover);
            // ff: a final block of the reserved type 11.
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Hex("c2 03 ff ff ff")), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Fails_inflated_text_that_is_not_utf8_with_1007()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var compressed = Compress([0x61, 0x62, 0xFF, 0x63]);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Text, compressed, rsv: FrameHeader.Rsv1)), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Fails_inflated_text_ending_inside_a_utf8_sequence_with_1007()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var compressed = Compress([0x61, 0xE2, 0x82]);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Text, compressed, rsv: FrameHeader.Rsv1)), CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void Does_not_validate_inflated_binary_as_utf8()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Binary, Compress([0xFF, 0xC0]), rsv: FrameHeader.Rsv1));
            AssertMessage(Assert.Single(events), Opcode.Binary, [0xFF, 0xC0]);
        }

        [Fact]
        public void Applies_the_size_limit_to_the_inflated_message()
        {
            var payload = new byte[101];
            using var exact = ProtocolHarness.Server(Options(maxMessageSize: 100), Takeover);
            AssertMessage(Assert.Single(exact.ReceiveInEverySplit(Frames.Client(Opcode.Binary, Compress(payload[..100]), rsv: FrameHeader.Rsv1))), Opcode.Binary, payload[..100]);
            using var over = ProtocolHarness.Server(Options(maxMessageSize: 100), Takeover);
            over.AssertConnectionFailing(over.ReceiveInEverySplit(Frames.Client(Opcode.Binary, Compress(payload), rsv: FrameHeader.Rsv1)), CloseStatus.MessageTooBig);
        }

        [Fact]
        public void A_decompression_bomb_stops_at_the_size_limit_with_1009()
        {
            var bomb = Compress(new byte[64 << 20]);   // 64 MiB of zeros in about 64 KiB
            Assert.True(bomb.Length < 100_000, $"{bomb.Length} bytes");
            var frame = Frames.Client(Opcode.Binary, bomb, rsv: FrameHeader.Rsv1);
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 1 << 20), Takeover);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var events = h.Receive(frame);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
            Assert.True(allocated < 8 << 20, $"{allocated} bytes allocated inflating a bomb against a 1 MiB limit");
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void Compressed_output_round_trips_through_a_second_protocol(bool noContextTakeover)
        {
            var agreed = noContextTakeover ? NoTakeover : Takeover;
            using var server = ProtocolHarness.Server(compression: agreed);
            using var client = ProtocolHarness.Client(compression: agreed);
            var texts = Enumerable.Range(0, 5).Select(i => $"{{\"n\":{i},\"text\":\"{new string('a', 150 + i * 50)} ✓\"}}").ToList();
            var binary = DeflateTestDataBytes(3000);
            foreach (var text in texts) server.Protocol.WriteText(server.Output, text);
            server.Protocol.WriteMessage(server.Output, Opcode.Binary, binary);
            foreach (var text in texts) client.Protocol.WriteText(client.Output, text);

            var toClient = server.Output.WrittenSpan.ToArray();
            var fromClient = client.Output.WrittenSpan.ToArray();
            Assert.All(server.TakeFramesSent(), f => Assert.Equal(FrameHeader.Rsv1, f.Rsv));
            Assert.All(client.TakeFramesSent(), f => Assert.Equal(FrameHeader.Rsv1, f.Rsv));

            var atClient = client.ReceiveInEverySplit(toClient);
            Assert.Equal(texts.Append("binary"), atClient.Select(e => e.Opcode == Opcode.Text ? e.Text : "binary"));
            Assert.Equal(binary, atClient[^1].Data);
            Assert.Equal(texts, server.ReceiveInEverySplit(fromClient).Select(e => e.Text));
        }

        private static byte[] DeflateTestDataBytes(int length) =>
            Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + i * 7 % 13))))[..length];

        [Fact]
        public void With_context_takeover_a_repeated_message_compresses_smaller_the_second_time()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            var text = string.Concat(Enumerable.Range(0, 40).Select(i => $"word{i * 37 % 101} "));
            int first = h.Protocol.WriteText(h.Output, text);
            int second = h.Protocol.WriteText(h.Output, text);
            Assert.True(second < first / 2, $"{first} then {second} bytes");
        }

        [Fact]
        public void Without_context_takeover_a_repeated_message_compresses_to_the_same_bytes()
        {
            using var h = ProtocolHarness.Server(compression: NoTakeover);
            var text = string.Concat(Enumerable.Range(0, 40).Select(i => $"word{i * 37 % 101} "));
            h.Protocol.WriteText(h.Output, text);
            h.Protocol.WriteText(h.Output, text);
            var frames = h.TakeFramesSent();
            Assert.Equal(2, frames.Count);
            Assert.Equal(frames[0].Payload, frames[1].Payload);
            Assert.True(frames[0].Payload.Length < text.Length);
        }

        [Fact]
        public void Sends_messages_under_the_compression_threshold_and_fragments_uncompressed()
        {
            using var h = ProtocolHarness.Server(compression: Takeover);
            Assert.False(h.Protocol.WillCompress(127));
            Assert.True(h.Protocol.WillCompress(128));
            Assert.Equal(5, h.Protocol.WriteMessage(h.Output, Opcode.Binary, [1, 2, 3, 4, 5]));
            h.Protocol.WriteFragment(h.Output, Opcode.Text, new byte[300], endOfMessage: true);
            Assert.Equal(Hex("82 05 01 02 03 04 05"), h.Output.WrittenSpan[..7].ToArray());
            Assert.All(h.TakeFramesSent(), f => Assert.Equal(0, f.Rsv));
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_message_sent_with_compress_false_goes_out_as_it_is_with_rsv1_clear(bool noContextTakeover)
        {
            var agreed = noContextTakeover ? NoTakeover : Takeover;
            using var server = ProtocolHarness.Server(compression: agreed);
            using var client = ProtocolHarness.Client(compression: agreed);
            var text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 60).Select(i => $"word{i * 37 % 101} ")));
            server.Protocol.WriteMessage(server.Output, Opcode.Text, text);
            Assert.Equal(text.Length, server.Protocol.WriteMessage(server.Output, Opcode.Text, text, compress: false));
            server.Protocol.WriteMessage(server.Output, Opcode.Text, text);
            var toClient = server.Output.WrittenSpan.ToArray();
            var frames = server.TakeFramesSent();
            Assert.Equal([FrameHeader.Rsv1, 0, FrameHeader.Rsv1], frames.Select(f => f.Rsv));
            Assert.Equal(text, frames[1].Payload);
            // The uncompressed message entered neither side's context: the third still inflates.
            var atClient = client.ReceiveInEverySplit(toClient);
            Assert.All(atClient, e => Assert.Equal(text, e.Data));
            Assert.Equal(3, atClient.Count);
        }

        [Fact]
        public void A_prepared_message_made_with_compress_false_is_framed_plain_for_every_recipient()
        {
            using var h = ProtocolHarness.Server(compression: NoTakeover);
            var payload = new byte[4000];
            var compressible = PreparedMessage.Create(payload, WebSocketMessageType.Binary);
            var plain = PreparedMessage.Create(payload, WebSocketMessageType.Binary, compress: false);
            Assert.True(compressible.Compress);
            Assert.False(plain.Compress);
            var compressed = h.Protocol.FrameFor(compressible);
            Assert.Equal(0x40, compressed.Span[0] & 0x40); // RSV1 is bit 6 of the first byte
            Assert.True(compressed.Length < 100);
            var frame = h.Protocol.FrameFor(plain);
            Assert.True(frame.Span.SequenceEqual(plain.Frame.Span));
            Assert.Equal(0, frame.Span[0] & 0x40);
        }

        [Fact]
        public void Nothing_is_compressed_without_agreement()
        {
            using var h = ProtocolHarness.Server();
            Assert.False(h.Protocol.WillCompress(1 << 20));
            h.Protocol.WriteText(h.Output, new string('z', 1000));
            Assert.Equal(1000, h.AssertFrameSent(Opcode.Text, Encoding.UTF8.GetBytes(new string('z', 1000))).Payload.Length);
        }
    }
}
