using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>RFC 6455 §5.5: control frames (ping §5.5.2, pong §5.5.3, close §5.5.1), reserved opcodes.</summary>
    public class ControlFrames
    {
        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Reports_a_ping_with_its_payload_and_answers_it_with_a_pong_of_the_same(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var events = h.ReceiveInEverySplit(h.PeerFrame(Opcode.Ping, "are you there?"));
            var ping = Assert.Single(events);
            Assert.Equal(WebSocketEvent.Ping, ping.Kind);
            Assert.Equal("are you there?", ping.Text);
            Assert.True(h.Protocol.WritePong(h.Output, h.Protocol.ControlPayload));
            h.AssertFrameSent(Opcode.Pong, "are you there?"u8);
        }

        [Fact]
        public void Client_reads_an_empty_ping()
        {
            using var h = ProtocolHarness.Client();
            var ping = Assert.Single(h.ReceiveInEverySplit(Hex("89 00")));
            Assert.Equal(WebSocketEvent.Ping, ping.Kind);
            Assert.Empty(ping.Data);
            Assert.True(h.Protocol.ControlPayload.IsEmpty);
        }

        [Fact]
        public void Reports_an_unsolicited_pong_and_reads_on()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Concat(Frames.Client(Opcode.Pong, "unasked"), Frames.Client(Opcode.Text, "after")));
            Assert.Equal("Pong Message", Kinds(events));
            Assert.Equal("unasked", events[0].Text);
            AssertMessage(events[1], Opcode.Text, "after");
            Assert.Equal(WebSocketProtocolState.Open, h.State);
        }

        [Fact]
        public void Server_writes_ping_and_pong_byte_for_byte()
        {
            using var h = ProtocolHarness.Server();
            Assert.True(h.Protocol.WritePing(h.Output, "hi"u8));
            Assert.True(h.Protocol.WritePong(h.Output, []));
            Assert.Equal(Hex("89 02 68 69 8a 00"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Accepts_a_control_frame_of_exactly_125_bytes()
        {
            using var h = ProtocolHarness.Server();
            var ping = Assert.Single(h.ReceiveInEverySplit(Frames.Client(Opcode.Ping, new byte[125])));
            Assert.Equal(125, ping.Data.Length);
        }

        [Theory]
        [InlineData(Opcode.Ping)]
        [InlineData(Opcode.Pong)]
        [InlineData(Opcode.Close)]
        public void Fails_a_control_frame_over_125_bytes_with_1002(Opcode opcode)
        {
            using var h = ProtocolHarness.Server();
            var payload = Frames.ClosePayload(1000, new string('a', 124)); // 126 bytes
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(opcode, payload)), CloseStatus.ProtocolError);
        }

        [Theory]
        [InlineData(WebSocketRole.Server, Opcode.Ping)]
        [InlineData(WebSocketRole.Server, Opcode.Pong)]
        [InlineData(WebSocketRole.Client, Opcode.Ping)]
        [InlineData(WebSocketRole.Client, Opcode.Pong)]
        public void Fails_a_fragmented_ping_or_pong_with_1002(WebSocketRole role, Opcode opcode)
        {
            using var h = new ProtocolHarness(role);
            h.AssertConnectionFailing(h.ReceiveInEverySplit(h.PeerFrame(opcode, "x", fin: false)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_a_fragmented_close_with_1002()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Close, Frames.ClosePayload(1000), fin: false));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
            Assert.Null(h.Protocol.PeerCloseStatus);
        }

        [Theory]
        [InlineData(3)]
        [InlineData(4)]
        [InlineData(5)]
        [InlineData(6)]
        [InlineData(7)]
        [InlineData(0xB)]
        [InlineData(0xC)]
        [InlineData(0xD)]
        [InlineData(0xE)]
        [InlineData(0xF)]
        public void Fails_a_reserved_opcode_with_1002(byte opcode)
        {
            using var server = ProtocolHarness.Server();
            server.AssertConnectionFailing(server.ReceiveInEverySplit(server.PeerBuild(opcode, "x"u8, 1)), CloseStatus.ProtocolError);
            using var client = ProtocolHarness.Client();
            client.AssertConnectionFailing(client.ReceiveInEverySplit(client.PeerBuild(opcode, "x"u8, 1)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Fails_an_rsv_bit_on_a_ping_with_1002_even_with_deflate_agreed()
        {
            using var h = ProtocolHarness.Server(compression: new(false, false, 15, 15));
            h.AssertConnectionFailing(h.ReceiveInEverySplit(Frames.Client(Opcode.Ping, "x"u8, rsv: FrameHeader.Rsv1)), CloseStatus.ProtocolError);
        }

        [Fact]
        public void Refuses_to_write_a_control_payload_over_125_bytes()
        {
            using var h = ProtocolHarness.Server();
            Assert.Throws<ArgumentException>(() => h.Protocol.WritePing(h.Output, new byte[126]));
            Assert.Throws<ArgumentException>(() => h.Protocol.WritePong(h.Output, new byte[126]));
            Assert.True(h.Protocol.WritePing(h.Output, new byte[125]));
            Assert.Equal(125, h.AssertFrameSent(Opcode.Ping, new byte[125]).Payload.Length);
        }

        [Theory]
        [InlineData(WebSocketRole.Server, 1000, "")]
        [InlineData(WebSocketRole.Server, 1001, "going away")]
        [InlineData(WebSocketRole.Server, 4000, "app-defined ✓")]
        [InlineData(WebSocketRole.Server, 3000, "")]
        [InlineData(WebSocketRole.Client, 1000, "")]
        [InlineData(WebSocketRole.Client, 1011, "server error")]
        [InlineData(WebSocketRole.Client, 4999, "")]
        public void Reports_the_peers_close_code_and_reason_and_echoes_the_code(WebSocketRole role, int code, string reason)
        {
            using var h = new ProtocolHarness(role);
            var events = h.ReceiveInEverySplit(h.PeerClose(code, reason));
            Assert.Equal(WebSocketProtocolState.CloseReceived, h.State);
            Assert.Equal((CloseStatus)code, h.Protocol.PeerCloseStatus);
            Assert.Equal(reason, h.Protocol.PeerCloseReason);
            h.AssertConnectionClosing(events, code, reason);
        }

        [Theory]
        [InlineData(WebSocketRole.Server)]
        [InlineData(WebSocketRole.Client)]
        public void Records_1005_for_an_empty_close_and_answers_with_an_empty_close(WebSocketRole role)
        {
            using var h = new ProtocolHarness(role);
            var events = h.ReceiveInEverySplit(h.PeerFrame(Opcode.Close, []));
            Assert.Equal(CloseStatus.NoStatusReceived, h.Protocol.PeerCloseStatus);
            Assert.Equal("", h.Protocol.PeerCloseReason);
            h.AssertConnectionClosing(events, null);
        }

        [Theory]
        [InlineData("03", 1002)]            // a 1-byte payload
        [InlineData("03 ed", 1002)]         // 1005: not on the wire (§7.4.1)
        [InlineData("03 ee", 1002)]         // 1006
        [InlineData("03 ec", 1002)]         // 1004, reserved
        [InlineData("05 df", 1002)]         // 1503, unassigned
        [InlineData("03 f7", 1002)]         // 1015
        [InlineData("03 e7", 1002)]         // 999
        [InlineData("0b b7", 1002)]         // 2999
        [InlineData("13 88", 1002)]         // 5000
        [InlineData("03 e8 ff fe", 1007)]   // 1000 with a reason that is not UTF-8
        [InlineData("03 e8 ed a0 80", 1007)] // a UTF-16 surrogate encoded in UTF-8
        public void Fails_an_invalid_close_payload_with_the_right_code(string payloadHex, int code)
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Frames.Client(Opcode.Close, Hex(payloadHex)));
            Assert.Equal("Failure InputEnded", Kinds(events));   // the peer is closing: no waiting for another close
            Assert.Null(h.Protocol.PeerCloseStatus);
            h.AssertConnectionFailing(events, (CloseStatus)code);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
        }

        [Fact]
        public void Client_fails_an_invalid_close_payload_and_reads_on_until_the_server_closes_tcp()
        {
            using var h = ProtocolHarness.Client();
            var events = h.ReceiveInEverySplit(Frames.Server(Opcode.Close, Hex("03")));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
            Assert.Equal(WebSocketProtocolState.Closed, h.State);
            h.AssertInputOverAfterTheCloseHandshake();
        }

        [Fact]
        public void Writes_a_close_with_code_and_reason_byte_for_byte()
        {
            using var h = ProtocolHarness.Server();
            Assert.True(h.WriteClose(CloseStatus.NormalClosure, "bye"));
            Assert.Equal(Hex("88 05 03 e8 62 79 65"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Writes_a_close_without_a_code_as_an_empty_payload_dropping_the_reason()
        {
            using var h = ProtocolHarness.Server();
            Assert.True(h.WriteClose(null, "ignored without a code"));
            Assert.Equal(Hex("88 00"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Cuts_a_long_close_reason_to_123_bytes_on_a_character_boundary()
        {
            using var h = ProtocolHarness.Client();
            Assert.True(h.WriteClose(CloseStatus.GoingAway, new string('é', 100)));   // 200 bytes
            var close = h.AssertCloseSent(1001);
            Assert.Equal(new string('é', 61), Encoding.UTF8.GetString(close.Payload.AsSpan(2)));   // 122 bytes: 123 would split a character
            Assert.Equal(124, close.Payload.Length);
        }

        [Fact]
        public void Cuts_a_close_reason_before_a_surrogate_pair_it_cannot_hold_whole()
        {
            var reason = new string('a', 121) + "😀";   // 121 + 4 bytes
            var cut = WebSocketProtocol.TruncateReason(reason);
            Assert.Equal(new string('a', 121), cut);
        }
    }
}
