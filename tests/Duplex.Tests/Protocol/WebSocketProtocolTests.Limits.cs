using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// Duplex's limits on what it receives: message size (1009, RFC 6455 §7.4.1), fragments per message
    /// (1008), judged from headers, and never an allocation of what a header merely announces.
    /// </summary>
    public class Limits
    {
        [Fact]
        public void Fails_a_frame_over_the_message_size_limit_with_1009_from_its_header_alone()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 100));
            var frame = Frames.Client(Opcode.Binary, new byte[101]);
            var events = h.ReceiveInEverySplit(frame[..8]);   // 2 + 4 header bytes and two of payload
            Assert.Equal(WebSocketEvent.Failure, events[0].Kind);
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Accepts_a_message_of_exactly_the_size_limit(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role, Options(maxMessageSize: 100));
            var payload = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
            var events = h.ReceiveInEverySplit(Frames.Concat(h.PeerFrame(Opcode.Binary, payload[..60], fin: false), h.PeerFrame(Opcode.Continuation, payload[60..])));
            AssertMessage(Assert.Single(events), Opcode.Binary, payload);
        }

        [Fact]
        public void Fails_fragments_summing_over_the_size_limit_with_1009()
        {
            using var h = ProtocolHarness.Client(Options(maxMessageSize: 100));
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Server(Opcode.Binary, new byte[60], fin: false), Frames.Server(Opcode.Continuation, new byte[41])));
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
        }

        [Fact]
        public void The_size_limit_counts_per_message()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 100));
            var events = h.ReceiveInEverySplit(Frames.Concat([.. Enumerable.Range(0, 5).Select(_ => Frames.Client(Opcode.Binary, new byte[100]))]));
            Assert.Equal("Message Message Message Message Message", Kinds(events));
        }

        [Fact]
        public void Fails_a_huge_declared_length_with_1009_not_an_overflow()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: 1 << 20));
            var events = h.ReceiveInEverySplit(Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, long.MaxValue));
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
        }

        [Fact]
        public void Fails_a_continuation_whose_length_would_overflow_the_running_total_with_1009()
        {
            using var h = ProtocolHarness.Server(Options(maxMessageSize: WebSocketProtocolOptions.MaxMessageSizeLimit));
            var events = h.Receive(Frames.Concat(
                Frames.Client(Opcode.Binary, [1], fin: false),
                Frames.Build((byte)Opcode.Continuation, [], true, 0, true, Frames.DefaultKey, long.MaxValue)));
            h.AssertConnectionFailing(events, CloseStatus.MessageTooBig);
        }

        [Fact]
        public void Accepts_exactly_the_fragment_limit()
        {
            var parts = new List<byte[]> { Frames.Client(Opcode.Binary, [0], fin: false) };
            for (int i = 1; i < 7; i++) parts.Add(Frames.Client(Opcode.Continuation, [(byte)i], fin: false));
            parts.Add(Frames.Client(Opcode.Continuation, [7]));
            using var h = ProtocolHarness.Server(Options(maxFragments: 8));
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Frames.Concat([.. parts]))), Opcode.Binary, [0, 1, 2, 3, 4, 5, 6, 7]);
        }

        [Fact]
        public void Fails_more_than_the_fragment_limit_with_1008()
        {
            var parts = new List<byte[]> { Frames.Client(Opcode.Binary, [], fin: false) };
            for (int i = 0; i < 8; i++) parts.Add(Frames.Client(Opcode.Continuation, [], fin: false));
            using var h = ProtocolHarness.Server(Options(maxFragments: 8));
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Concat([.. parts])), CloseStatus.PolicyViolation);
        }

        [Fact]
        public void Counts_fragments_per_message_not_per_connection()
        {
            var parts = new List<byte[]>();
            for (int m = 0; m < 5; m++)
            {
                parts.Add(Frames.Client(Opcode.Binary, [], fin: false));
                parts.Add(Frames.Client(Opcode.Continuation, [], fin: false));
                parts.Add(Frames.Client(Opcode.Continuation, []));
            }
            using var h = ProtocolHarness.Server(Options(maxFragments: 3));
            Assert.Equal(5, h.ReceiveInEverySplit(Frames.Concat([.. parts])).Count);
        }

        [Fact]
        public void Control_frames_between_fragments_do_not_count_as_fragments()
        {
            using var h = ProtocolHarness.Server(Options(maxFragments: 2));
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(Opcode.Ping, "1"), Frames.Client(Opcode.Ping, "2"), Frames.Client(Opcode.Continuation, "b")));
            Assert.Equal("Ping Ping Message", Kinds(events));
        }

        [Theory]
        [InlineData(60L << 20)]                 // under the default 64 MiB limit: accepted, and awaited
        [InlineData(2L << 30)]                  // far over it: failed from the header
        [InlineData(long.MaxValue)]
        public void An_announced_length_is_not_allocated_before_its_bytes_arrive(long announced)
        {
            using var h = ProtocolHarness.Server();
            var header = Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, announced);
            var wire = Frames.Concat(header, new byte[10]);
            h.Receive(wire.AsSpan(0, 1));   // warm the harness up outside the measurement
            long before = GC.GetAllocatedBytesForCurrentThread();
            var events = h.Receive(wire.AsSpan(1));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated for 10 bytes of a frame announcing {announced}");
            if (announced < WebSocketProtocolOptions.DefaultMaxMessageSize) Assert.Empty(events);
            else Assert.Equal(CloseStatus.MessageTooBig, events[0].Status);
        }

        [Fact]
        public void Grows_the_message_buffer_with_the_bytes_that_arrive()
        {
            // A 60 MiB frame fed 64 KiB at a time allocates in step with what came, not all at once.
            using var h = ProtocolHarness.Server();
            var piece = new byte[64 * 1024];
            var header = Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, 60L << 20);
            h.Receive(header);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 16; i++) Assert.Empty(h.Receive(piece));   // 1 MiB of 60
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 8 << 20, $"{allocated} bytes allocated for the first MiB of a 60 MiB frame");
        }

        [Fact]
        public void Rejects_limits_out_of_range()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { MaxMessageSize = 0 });
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { MaxMessageSize = WebSocketProtocolOptions.MaxMessageSizeLimit + 1 });
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { MaxFragments = 0 });
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { ReceiveChunkSize = 0 });
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { CompressionLevel = 10 });
            Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketProtocolOptions { MinMessageSizeToCompress = -1 });
        }
    }
}
