using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public partial class WebSocketProtocolTests
{
    /// <summary>RFC 6455 §5.1 and §5.3: a client masks every frame, a server none; each end checks the other.</summary>
    public class Masking
    {
        // "Spam" from a server, and masked with the key 00 ff 00 ff from a client.
        private const string UnmaskedSpam = "81 04 53 70 61 6d";
        private const string MaskedSpam = "81 84 00 ff 00 ff 53 8f 61 92";

        [Fact]
        public void Server_unmasks_a_masked_client_frame()
        {
            using var h = ProtocolHarness.Server();
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex(MaskedSpam))), Opcode.Text, "Spam");
        }

        [Fact]
        public void Client_reads_an_unmasked_server_frame()
        {
            using var h = ProtocolHarness.Client();
            AssertMessage(Assert.Single(h.ReceiveInEverySplit(Hex(UnmaskedSpam))), Opcode.Text, "Spam");
        }

        [Fact]
        public void Server_fails_an_unmasked_frame_with_1002()
        {
            using var h = ProtocolHarness.Server();
            var events = h.ReceiveInEverySplit(Hex(UnmaskedSpam));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
            Assert.Contains("not masked", h.Protocol.Error.Reason);
        }

        [Fact]
        public void Client_fails_a_masked_frame_with_1002()
        {
            using var h = ProtocolHarness.Client();
            var events = h.ReceiveInEverySplit(Hex(MaskedSpam));
            h.AssertConnectionFailing(events, CloseStatus.ProtocolError);
            Assert.Contains("masked", h.Protocol.Error.Reason);
        }

        [Fact]
        public void Server_sends_unmasked_frames_byte_for_byte()
        {
            using var h = ProtocolHarness.Server();
            h.Protocol.WriteText(h.Output, "Spam");
            h.Protocol.WriteMessage(h.Output, Opcode.Binary, [1, 2, 3]);
            Assert.Equal(Hex(UnmaskedSpam + " 82 03 01 02 03"), h.Output.WrittenSpan.ToArray());
        }

        [Fact]
        public void Client_masks_every_frame_it_sends_with_a_fresh_key()
        {
            using var h = ProtocolHarness.Client();
            var text = new string('s', 300);
            h.Protocol.WriteText(h.Output, text);
            h.Protocol.WriteText(h.Output, new string('L', 20_000));   // past the direct-encoding limit
            h.Protocol.WriteMessage(h.Output, Opcode.Binary, [1, 2, 3, 4, 5]);
            h.Protocol.WriteFragment(h.Output, Opcode.Text, "ab"u8, endOfMessage: false);
            h.Protocol.WriteFragment(h.Output, Opcode.Text, "cd"u8, endOfMessage: true);
            Assert.True(h.Protocol.WritePing(h.Output, "p"u8));
            Assert.True(h.Protocol.WritePong(h.Output, "q"u8));
            Assert.True(h.WriteClose(CloseStatus.NormalClosure, "bye"));
            var raw = h.Output.WrittenSpan.ToArray();
            var frames = h.TakeFramesSent();   // asserts every frame is masked, and unmasks them

            Assert.Equal([Opcode.Text, Opcode.Text, Opcode.Binary, Opcode.Text, Opcode.Continuation, Opcode.Ping, Opcode.Pong, Opcode.Close], frames.Select(f => f.Opcode));
            Assert.Equal(text, frames[0].Text);
            Assert.Equal(new string('L', 20_000), frames[1].Text);
            Assert.Equal([1, 2, 3, 4, 5], frames[2].Payload);
            Assert.Equal("abcd", frames[3].Text + frames[4].Text);
            Assert.Equal(1000, frames[7].CloseCode);
            Assert.Equal(frames.Count, frames.Select(f => f.MaskKey).Distinct().Count());
            // The text is not on the wire in the clear.
            Assert.DoesNotContain("ssssssss", Encoding.Latin1.GetString(raw));
        }

        [Fact]
        public void A_client_frame_the_server_reads_back_is_what_the_client_wrote()
        {
            using var client = ProtocolHarness.Client();
            using var server = ProtocolHarness.Server();
            client.Protocol.WriteText(client.Output, "through the mask ✓");
            var events = server.ReceiveInEverySplit(client.Output.WrittenSpan.ToArray());
            AssertMessage(Assert.Single(events), Opcode.Text, "through the mask ✓");
        }

        [Fact]
        public void Unmasks_payloads_delivered_in_odd_sized_pieces()
        {
            var payload = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
            var frame = Frames.Client(Opcode.Binary, payload);
            foreach (int piece in new[] { 1, 3, 5, 7, 64, 999 })
            {
                using var h = ProtocolHarness.Server();
                var events = new List<ProtocolEvent>();
                for (int pos = 0; pos < frame.Length; pos += piece)
                    events.AddRange(h.Receive(frame.AsSpan(pos, Math.Min(piece, frame.Length - pos))));
                AssertMessage(Assert.Single(events), Opcode.Binary, payload);
            }
        }

        [Fact]
        public void Hands_back_every_prefix_of_a_header_until_it_is_whole()
        {
            var frame = Frames.Client(Opcode.Binary, new byte[70000]);
            for (int n = 0; n < 14; n++)
            {
                using var prefix = ProtocolHarness.Server();
                Assert.Empty(prefix.Receive(frame.AsSpan(0, n)));
                Assert.Equal(n, prefix.Buffered);
            }
            using var h = ProtocolHarness.Server();
            Assert.Empty(h.Receive(frame.AsSpan(0, 14)));
            Assert.Equal(0, h.Buffered);   // the header is read; the payload is awaited, not buffered
            AssertMessage(Assert.Single(h.Receive(frame.AsSpan(14))), Opcode.Binary, new byte[70000]);
        }
    }
}
