using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>
    /// What may be sent in which state: no data after our close (§5.5.1), no frame at all after it
    /// (answered with false for control frames), nothing but control frames inside a fragmented
    /// message (§5.4). Refusals write nothing.
    /// </summary>
    public class OutputRules
    {
        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Data_after_our_close_throws_and_writes_nothing(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            Assert.True(h.WriteClose(CloseStatus.NormalClosure));
            h.TakeFramesSent();
            Assert.False(h.Protocol.CanSendMessage);
            Assert.False(h.Protocol.CanSendControl);
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteMessage(h.Output, Opcode.Binary, [1]));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteText(h.Output, "late"));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteText(h.Output, new string('x', 20_000)));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteFragment(h.Output, Opcode.Text, "late"u8, endOfMessage: true));
            h.AssertNothingSent();
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Control_frames_after_our_close_are_refused_with_false(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            Assert.True(h.WriteClose(null));
            h.TakeFramesSent();
            Assert.False(h.Protocol.WritePing(h.Output, "p"u8));
            Assert.False(h.Protocol.WritePong(h.Output, "p"u8));
            Assert.False(h.WriteClose(CloseStatus.NormalClosure));
            h.AssertNothingSent();
        }

        [Theory]
        [InlineData(1005)]
        [InlineData(1006)]
        [InlineData(1015)]
        [InlineData(999)]
        [InlineData(2000)]
        public void A_close_code_not_allowed_on_the_wire_is_refused_and_the_close_can_still_go_out(int code)
        {
            using var h = new ProtocolHarness(WebSocketRole.Server);
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Protocol.WriteClose(h.Output, (CloseStatus)code));
            h.AssertNothingSent();
            Assert.True(h.Protocol.CanSendControl);
            Assert.True(h.WriteClose(CloseStatus.NormalClosure));
        }

        [Fact]
        public void A_data_message_during_an_unfinished_fragmented_message_throws()
        {
            using var h = ProtocolHarness.Server();
            h.Protocol.WriteFragment(h.Output, Opcode.Binary, [1], endOfMessage: false);
            h.TakeFramesSent();
            Assert.False(h.Protocol.CanSendMessage);
            Assert.True(h.Protocol.CanSendControl);
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteMessage(h.Output, Opcode.Binary, [2]));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteText(h.Output, "no"));
            h.AssertNothingSent();
            h.Protocol.WriteFragment(h.Output, Opcode.Binary, [3], endOfMessage: true);
            Assert.True(h.Protocol.CanSendMessage);
            h.Protocol.WriteMessage(h.Output, Opcode.Binary, [4]);
            Assert.Equal([Opcode.Continuation, Opcode.Binary], h.TakeFramesSent().Select(f => f.Opcode));
        }

        [Fact]
        public void Our_close_may_end_an_unfinished_fragmented_message_and_nothing_follows_it()
        {
            using var h = ProtocolHarness.Client();
            h.Protocol.WriteFragment(h.Output, Opcode.Text, "a"u8, endOfMessage: false);
            Assert.True(h.WriteClose(CloseStatus.GoingAway));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteFragment(h.Output, Opcode.Text, "b"u8, endOfMessage: true));
            Assert.Equal([Opcode.Text, Opcode.Close], h.TakeFramesSent().Select(f => f.Opcode));
        }

        [Fact]
        public void After_the_peers_close_we_may_still_send_until_our_own()
        {
            using var h = ProtocolHarness.Client();
            h.Receive(Frames.Server(Opcode.Close, Frames.ClosePayload(1000)));
            Assert.Equal(WebSocketProtocolState.CloseReceived, h.State);
            Assert.True(h.Protocol.CanSendMessage);
            h.Protocol.WriteText(h.Output, "still here");
            Assert.True(h.Protocol.WritePong(h.Output, []));
            Assert.True(h.Protocol.WriteCloseReply(h.Output));
            Assert.Equal([Opcode.Text, Opcode.Pong, Opcode.Close], h.TakeFramesSent().Select(f => f.Opcode));
        }

        [Fact]
        public void After_a_failure_the_close_still_goes_out_and_then_nothing()
        {
            using var h = ProtocolHarness.Server();
            h.Receive(Frames.Client(Opcode.Text, [0xFF]));
            Assert.True(h.Protocol.CanSendControl);
            Assert.True(h.WriteClose(h.Protocol.Error.Status));
            Assert.False(h.Protocol.WritePing(h.Output, []));
            Assert.Throws<InvalidOperationException>(() => h.Protocol.WriteText(h.Output, "x"));
            h.AssertCloseSent(1007);
        }
    }
}
