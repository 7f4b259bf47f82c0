using System.Buffers;
using Duplex.Protocol;
using Duplex.Protocol.Deflate;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// <see cref="WebSocketProtocolOptions.ReceiveChunkSize"/>: a message larger than the chunk comes out
    /// in parts of exactly that size as it arrives (<see cref="WebSocketEvent.MessagePart"/>), the last
    /// one as <see cref="WebSocketEvent.Message"/>; the limits and UTF-8 still apply to the whole.
    /// </summary>
    public class ChunkedDelivery
    {
        private static readonly byte[] Ten = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Hands_out_a_message_in_parts_of_the_chunk_size(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role, Options(chunk: 4));
            var events = h.ReceiveInEverySplit(h.PeerFrame(Opcode.Binary, Ten));
            Assert.Equal("MessagePart MessagePart Message", Kinds(events));
            Assert.Equal([4, 4, 2], events.Select(e => e.Data.Length));
            Assert.Equal(Ten, events.SelectMany(e => e.Data));
            Assert.All(events, e => Assert.Equal(Opcode.Binary, e.Opcode));
        }

        [Fact]
        public void A_message_of_exactly_two_chunks_ends_with_a_full_message_event()
        {
            using var h = ProtocolHarness.Server(Options(chunk: 5));
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Binary, Ten));
            Assert.Equal("MessagePart Message", Kinds(events));
            Assert.Equal([5, 5], events.Select(e => e.Data.Length));
        }

        [Fact]
        public void A_message_no_larger_than_a_chunk_comes_whole()
        {
            using var h = ProtocolHarness.Server(Options(chunk: 10));
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Frames.Client(Opcode.Binary, Ten))), Opcode.Binary, Ten);
        }

        [Fact]
        public void Parts_cut_across_fragments_and_ignore_the_control_frames_between()
        {
            using var h = ProtocolHarness.Server(Options(chunk: 4));
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, "abc", fin: false), Frames.Client(Opcode.Ping, "p"),
                Frames.Client(Opcode.Continuation, "def", fin: false), Frames.Client(Opcode.Continuation, "ghi")));
            Assert.Equal("Ping MessagePart MessagePart Message", Kinds(events));
            Assert.Equal(["abcd", "efgh", "i"], events.Skip(1).Select(e => e.Text));
            Assert.All(events.Skip(1), e => Assert.Equal(Opcode.Text, e.Opcode));
        }

        [Fact]
        public void A_non_final_fragment_ending_on_a_chunk_boundary_leaves_an_empty_last_message()
        {
            using var h = ProtocolHarness.Server(Options(chunk: 4));
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Binary, [1, 2, 3, 4], fin: false), Frames.Client(Opcode.Continuation, [])));
            Assert.Equal("MessagePart Message", Kinds(events));
            Assert.Empty(events[1].Data);
        }

        [Fact]
        public void Text_parts_may_split_a_character_but_the_message_must_be_utf8()
        {
            using var ok = ProtocolHarness.Server(Options(chunk: 2));
            var euro = ok.ReceiveInEverySplit(Frames.Client(Opcode.Text, "€€"u8));
            Assert.Equal("MessagePart MessagePart Message", Kinds(euro));
            Assert.Equal("€€"u8.ToArray(), euro.SelectMany(e => e.Data));

            using var bad = ProtocolHarness.Server(Options(chunk: 2));
            var events = bad.ReceiveInEverySplit(Frames.Client(Opcode.Text, [0x61, 0x62, 0x63, 0xFF]));
            Assert.Equal("MessagePart Failure", Kinds(events));
            bad.AssertConnectionFailing(events, CloseStatus.InvalidPayloadData);
        }

        [Fact]
        public void The_size_limit_holds_for_the_whole_message_though_parts_were_handed_out()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 8, chunk: 4));
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Binary, Ten[..6], fin: false), Frames.Client(Opcode.Continuation, Ten[6..])));
            Assert.Equal("MessagePart Failure", Kinds(events));
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
        }

        [Fact]
        public void A_large_message_is_never_held_whole()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 64 << 20, chunk: 4096));
            var frame = Frames.Client(Opcode.Binary, new byte[1 << 20]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var events = h.Receive(frame);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(256, events.Count);
            Assert.All(events, e => Assert.Equal(4096, e.Data.Length));
            // The harness copies each part out (1 MiB in all); the protocol holds one chunk at a time.
            Assert.True(allocated < (1 << 20) + (1 << 20) / 2 + (2 << 20), $"{allocated} bytes");
        }

        [Fact]
        public void Inflated_messages_come_in_parts_that_add_up_to_the_message()
        {
            var payload = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i % 97},")));
            using var deflater = new MessageDeflater(15, noContextTakeover: true);
            var compressed = new ArrayBufferWriter<byte>();
            deflater.CompressMessage(payload, compressed);
            var wire = Frames.Client(Opcode.Text, compressed.WrittenSpan, rsv: FrameHeader.Rsv1);

            foreach (int piece in new[] { wire.Length, 1, 7, 100 })
            {
                using var h = ProtocolHarness.Server(Options(chunk: 1000), new(false, false, 15, 15));
                var events = new List<ProtocolEvent>();
                for (int pos = 0; pos < wire.Length; pos += piece) events.AddRange(h.Receive(wire.AsSpan(pos, Math.Min(piece, wire.Length - pos))));
                Assert.Equal(payload, events.SelectMany(e => e.Data));
                Assert.Equal(WebSocketEvent.Message, events[^1].Kind);
                Assert.All(events[..^1], e => Assert.Equal((WebSocketEvent.MessagePart, 1000), (e.Kind, e.Data.Length)));
                Assert.True(events[^1].Data.Length <= 1000);
            }
        }

        [Fact]
        public void Inflated_parts_are_the_same_however_the_input_is_split()
        {
            // Exactly two chunks of inflated text: the parts must not depend on how much was inflated
            // per delivery (they used to end in an extra, empty message when fed byte by byte).
            var payload = new byte[2000];
            new Random(1).NextBytes(payload);
            using var deflater = new MessageDeflater(15, noContextTakeover: true);
            var compressed = new ArrayBufferWriter<byte>();
            deflater.CompressMessage(payload, compressed);
            using var h = ProtocolHarness.Server(Options(chunk: 1000), new(false, false, 15, 15));
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Binary, compressed.WrittenSpan, rsv: FrameHeader.Rsv1));
            Assert.Equal("MessagePart Message", Kinds(events));
            Assert.Equal(payload, events.SelectMany(e => e.Data));
        }

        [Fact]
        public void A_large_inflated_message_comes_out_whole_in_small_parts()
        {
            // 4 MiB from a few KiB, in 4 KiB parts: the parts are read from the inflated bytes in place,
            // and what is left is moved now and then; every byte must come out once, in order.
            var payload = new byte[4 << 20];
            for (int i = 0; i < payload.Length; i++) payload[i] = (byte)(i / 4096);
            using var deflater = new MessageDeflater(15, noContextTakeover: true);
            var compressed = new ArrayBufferWriter<byte>();
            deflater.CompressMessage(payload, compressed);
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 64 << 20, chunk: 4096), new(false, false, 15, 15));
            var events = h.Receive(Frames.Client(Opcode.Binary, compressed.WrittenSpan, rsv: FrameHeader.Rsv1));
            Assert.Equal(1024, events.Count);
            Assert.All(events, e => Assert.Equal(4096, e.Data.Length));
            Assert.Equal(WebSocketEvent.Message, events[^1].Kind);
            Assert.True(payload.AsSpan().SequenceEqual(events.SelectMany(e => e.Data).ToArray()));
        }
    }
}
