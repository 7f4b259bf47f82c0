using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// RFC 6455 §7 and §5.5.1: the close handshake from either side. Nothing is read after the peer's
    /// close; once both are exchanged the server ends input (it closes TCP first, §7.1.1) and the
    /// client reads on until the server does.
    /// </summary>
    public class CloseHandshake
    {
        [Fact]
        public void Server_ends_input_right_after_the_peers_close_and_may_still_send_before_replying()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.ClientClose(1000), Frames.Client(Opcode.Text, "after the close")));
            Assert.Equal("Close InputEnded", Kinds(events));
            Assert.Equal(WebSocketProtocolState.CloseReceived, h.State);
            Assert.True(h.Protocol.CanSendMessage);
            h.Protocol.WriteText(h.Output, "last words");
            Assert.True(h.Protocol.WriteCloseReply(h.Output));
            var frames = h.TakeFramesSent();
            Assert.Equal([Opcode.Text, Opcode.Close], frames.Select(f => f.Opcode));
            Assert.Equal(1000, frames[1].CloseCode);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void Client_reads_on_after_the_handshake_ignoring_everything_until_the_server_closes_tcp()
        {
            using var h = ProtocolHarness.Client();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Server(Opcode.Close, Frames.ClosePayload(1000)), Frames.Server(Opcode.Text, "ignored"u8)));
            Assert.Equal("Close", Kinds(events));
            Assert.Equal(0, h.Buffered);
            Assert.True(h.Protocol.WriteCloseReply(h.Output));
            h.AssertCloseSent(1000);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            for (int i = 0; i < 3; i++) Assert.Empty(h.Receive(Frames.Server(Opcode.Ping, "still open?"u8)));
            Assert.False(h.InputEnded);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Delivers_a_message_that_arrived_with_the_close_before_the_close(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var events = h.ReceiveInEverySplit(Frames.Concat(h.PeerFrame(Opcode.Text, "last words"), h.PeerClose(1001, "bye")));
            AssertMessage(events[0], Opcode.Text, "last words");
            Assert.Equal(WebSocketEvent.Close, events[1].Kind);
            h.AssertConnectionClosing(events, 1001, "bye");
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void After_our_close_the_peers_messages_still_arrive_until_its_close(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            Assert.True(h.WriteClose(CloseStatus.GoingAway, "leaving"));
            h.AssertCloseSent(1001, "leaving");
            Assert.Equal(WebSocketProtocolState.CloseSent, h.State);

            var events = h.ReceiveInEverySplit(Frames.Concat(h.PeerFrame(Opcode.Text, "in flight"), h.PeerFrame(Opcode.Ping, "p"), h.PeerClose(1001)));
            Assert.StartsWith("Message Ping Close", Kinds(events));
            AssertMessage(events[0], Opcode.Text, "in flight");
            Assert.Equal(CloseStatus.GoingAway, h.Protocol.PeerCloseStatus);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            // Both closes are out: nothing more is sent, not even the pong the ping asked for.
            Assert.False(h.Protocol.WritePong(h.Output, "p"u8));
            Assert.False(h.Protocol.WriteCloseReply(h.Output));
            h.AssertNothingSent();
            Assert.Equal(role == WebSocketRole.Server, h.InputEnded);
            h.AssertInputOverAfterTheCloseHandshake();
        }

        [Fact]
        public void Both_ends_closing_at_once_ends_the_handshake_with_either_close()
        {
            using var h = ProtocolHarness.Server();
            Assert.True(h.WriteClose(CloseStatus.GoingAway));
            var events = h.ReceiveInEverySplit(Frames.ClientClose(1000, "me too"));
            Assert.Equal("Close InputEnded", Kinds(events));
            Assert.Equal(CloseStatus.NormalClosure, h.Protocol.PeerCloseStatus);
            Assert.Equal("me too", h.Protocol.PeerCloseReason);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            h.AssertCloseSent(1001);
        }

        [Fact]
        public void A_message_unfinished_at_the_peers_close_is_never_delivered()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Text, "half", fin: false), Frames.ClientClose(1000)));
            Assert.Equal("Close InputEnded", Kinds(events));
            Assert.Null(h.Protocol.TakeMessage(out int length));
            Assert.Equal(0, length);
        }

        [Fact]
        public void Our_close_goes_out_once()
        {
            using var h = ProtocolHarness.Client();
            Assert.True(h.WriteClose(CloseStatus.NormalClosure));
            Assert.False(h.WriteClose(CloseStatus.GoingAway));
            Assert.False(h.Protocol.WriteCloseReply(h.Output));
            h.AssertCloseSent(1000);
            Assert.Equal(WebSocketProtocolState.CloseSent, h.State);
        }

        [Fact]
        public void The_close_reply_after_an_empty_close_is_empty_too()
        {
            using var h = ProtocolHarness.Server();
            h.ReceiveInEverySplit(Frames.Client(Opcode.Close, []));
            Assert.True(h.Protocol.WriteCloseReply(h.Output));
            Assert.Equal(Hex("88 00"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Server_reads_the_peers_close_then_ends_input_exactly_once()
        {
            using var h = ProtocolHarness.Server();
            var input = new System.Buffers.ReadOnlySequence<byte>(Frames.ClientClose(1000));
            Assert.Equal(WebSocketEvent.Close, h.Protocol.Receive(ref input));
            Assert.True(input.IsEmpty);
            Assert.Equal(WebSocketEvent.InputEnded, h.Protocol.Receive(ref input));
            // Asked again, the answer stays: a driver that loops once more does not read anything.
            var more = new System.Buffers.ReadOnlySequence<byte>(Frames.Client(Opcode.Text, "x"));
            Assert.Equal(WebSocketEvent.InputEnded, h.Protocol.Receive(ref more));
            Assert.Equal(WebSocketProtocolState.CloseReceived, h.State);
        }
    }
}
