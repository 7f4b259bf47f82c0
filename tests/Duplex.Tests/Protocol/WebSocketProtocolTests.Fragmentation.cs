using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>RFC 6455 §5.4: a message in fragments, control frames between them, nothing else.</summary>
    public class Fragmentation
    {
        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Reassembles_fragments_with_control_frames_between(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var wire = Frames.Concat(
                h.PeerFrame(Opcode.Text, "Hel", fin: false),
                h.PeerFrame(Opcode.Ping, "p1"),
                h.PeerFrame(Opcode.Continuation, "lo, ", fin: false),
                h.PeerFrame(Opcode.Pong, "p2"),
                h.PeerFrame(Opcode.Continuation, "world"));
            var events = h.ReceiveInEverySplit(wire);
            Assert.Equal("Ping Pong Message", Kinds(events));
            Assert.Equal("p1", events[0].Text);
            Assert.Equal("p2", events[1].Text);
            AssertMessage(events[2], Opcode.Text, "Hello, world");
        }

        [Fact]
        public void Client_reassembles_the_rfc_example_of_a_fragmented_text()
        {
            // RFC 6455 §5.7: "Hel" then "lo", unmasked.
            using var h = ProtocolHarness.Client();
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex("01 03 48 65 6c 80 02 6c 6f"))), Opcode.Text, "Hello");
        }

        [Fact]
        public void Reassembles_a_message_of_empty_fragments_as_an_empty_message()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(
                Frames.Client(Opcode.Binary, [], fin: false), Frames.Client(Opcode.Continuation, [], fin: false), Frames.Client(Opcode.Continuation, [])));
            AssertMessage(Assert.Single(events), Opcode.Binary, []);
        }

        [Fact]
        public void Keeps_the_opcode_of_the_first_fragment()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Binary, [1], fin: false), Frames.Client(Opcode.Continuation, [2])));
            AssertMessage(Assert.Single(events), Opcode.Binary, [1, 2]);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Fails_a_continuation_without_a_message_with_1002(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(h.PeerFrame(Opcode.Continuation, "x")), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_a_continuation_after_a_finished_message_with_1002_and_keeps_the_message()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "a"), Frames.Client(Opcode.Continuation, "b")));
            AssertMessage(events[0], Opcode.Text, "a");
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
        }

        [Theory]
        [InlineData(Opcode.Text)]
        [InlineData(Opcode.Binary)]
        public void Fails_a_new_data_frame_inside_a_fragmented_message_with_1002(Opcode second)
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(second, "b"u8)));
            Assert.Equal("Failure", Kinds(events));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
        }

        [Fact]
        public void Sends_a_fragmented_message_as_its_type_then_continuations()
        {
            using var h = ProtocolHarness.Server();
            h.Protocol.WriteFragment(h.Output, Opcode.Text, "Hel"u8, endOfMessage: false);
            h.Protocol.WriteFragment(h.Output, Opcode.Text, "lo"u8, endOfMessage: false);
            h.Protocol.WriteFragment(h.Output, Opcode.Text, ""u8, endOfMessage: true);
            // RFC 6455 §5.7's example, with an empty final fragment.
            Assert.Equal(Hex("01 03 48 65 6c 00 02 6c 6f 80 00"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Sends_ping_pong_and_close_between_fragments()
        {
            using var h = ProtocolHarness.Client();
            h.Protocol.WriteFragment(h.Output, Opcode.Binary, [1], endOfMessage: false);
            Assert.True(h.Protocol.WritePing(h.Output, "p"u8));
            Assert.True(h.Protocol.WritePong(h.Output, "q"u8));
            h.Protocol.WriteFragment(h.Output, Opcode.Binary, [2], endOfMessage: true);
            var frames = h.TakeFramesSent();
            Assert.Equal([Opcode.Binary, Opcode.Ping, Opcode.Pong, Opcode.Continuation], frames.Select(f => f.Opcode));
            Assert.Equal([false, true, true, true], frames.Select(f => f.Fin));
        }

        [Fact]
        public void A_fragmented_message_sent_by_one_end_is_one_message_at_the_other()
        {
            using var client = ProtocolHarness.Client();
            using var server = ProtocolHarness.Server();
            var text = Encoding.UTF8.GetBytes("split inside a character: €");
            client.Protocol.WriteFragment(client.Output, Opcode.Text, text.AsSpan(0, text.Length - 2), endOfMessage: false);
            client.Protocol.WritePing(client.Output, "between"u8);
            client.Protocol.WriteFragment(client.Output, Opcode.Text, text.AsSpan(text.Length - 2), endOfMessage: true);
            var events = server.ReceiveInEverySplit(client.Output.WrittenSpan.ToArray());
            Assert.Equal("Ping Message", Kinds(events));
            AssertMessage(events[1], Opcode.Text, text);
        }

        [Fact]
        public void Refuses_a_fragment_of_a_control_type()
        {
            using var h = ProtocolHarness.Server();
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Protocol.WriteFragment(h.Output, Opcode.Ping, [], endOfMessage: true));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Protocol.WriteFragment(h.Output, Opcode.Continuation, [], endOfMessage: true));
            h.AssertNothingSent();
        }
    }
}
