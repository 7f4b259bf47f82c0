using System.Text;
using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public class FrameReaderTests
{
    private static void AssertFails(ReaderDriver.Outcome outcome, CloseStatus expected)
    {
        Assert.NotNull(outcome.Error);
        Assert.Equal(expected, outcome.Error!.Value.Status);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Error.Value.Reason));
    }

    [Fact]
    public void Unmasks_a_client_text_frame()
    {
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Text, "Hello, wörld"));
        Assert.Null(outcome.Error);
        var (opcode, data) = Assert.Single(outcome.Events);
        Assert.Equal(Opcode.Text, opcode);
        Assert.Equal("Hello, wörld", Encoding.UTF8.GetString(data));
    }

    [Fact]
    public void Unmasks_payload_processed_in_odd_sized_chunks()
    {
        var payload = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        foreach (int chunk in new[] { 1, 3, 5, 7, 64, 999 })
        {
            var outcome = ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Binary, payload), chunk);
            Assert.Null(outcome.Error);
            Assert.Equal(payload, Assert.Single(outcome.Events).Data);
        }
    }

    [Fact]
    public void Needs_more_data_for_every_prefix_of_a_header()
    {
        var frame = Frames.Client(Opcode.Binary, new byte[70000]);
        var reader = new FrameReader(ReaderDriver.Server());
        for (int n = 0; n < 14; n++)
            Assert.Equal(FrameReadStatus.NeedMoreData, reader.TryReadHeader(frame.AsSpan(0, n), out _, out _));
        Assert.Equal(FrameReadStatus.Ok, reader.TryReadHeader(frame.AsSpan(0, 14), out var header, out _));
        Assert.Equal(70000, header.PayloadLength);
        Assert.Equal(14, header.HeaderLength);
    }

    [Fact]
    public void Rejects_unmasked_client_frame_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Text, "hi"u8, masked: false)), CloseStatus.ProtocolError);

    [Fact]
    public void Rejects_masked_server_frame_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Client(), Frames.Client(Opcode.Text, "hi"u8)), CloseStatus.ProtocolError);

    [Fact]
    public void Accepts_unmasked_server_frame_in_client_role()
    {
        var outcome = ReaderDriver.Run(ReaderDriver.Client(), Frames.Server(Opcode.Binary, [1, 2, 3]));
        Assert.Null(outcome.Error);
        Assert.Equal([1, 2, 3], Assert.Single(outcome.Events).Data);
    }

    [Theory]
    [InlineData(FrameHeader.Rsv1)]
    [InlineData(FrameHeader.Rsv2)]
    [InlineData(FrameHeader.Rsv3)]
    [InlineData(FrameHeader.Rsv1 | FrameHeader.Rsv2 | FrameHeader.Rsv3)]
    public void Rejects_rsv_bits_without_extension_with_1002(byte rsv) =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Text, "x"u8, rsv: rsv)), CloseStatus.ProtocolError);

    [Fact]
    public void Rejects_rsv_bit_on_ping_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(allowedRsv: FrameHeader.Rsv1), Frames.Client(Opcode.Ping, "x"u8, rsv: FrameHeader.Rsv1)), CloseStatus.ProtocolError);

    [Fact]
    public void Accepts_negotiated_rsv1_on_first_frame_and_marks_message_compressed()
    {
        var reader = new FrameReader(ReaderDriver.Server(allowedRsv: FrameHeader.Rsv1));
        var frame = Frames.Client(Opcode.Text, [0xFF, 0xFE], rsv: FrameHeader.Rsv1);
        Assert.Equal(FrameReadStatus.Ok, reader.TryReadHeader(frame, out var header, out _));
        Assert.True(reader.MessageCompressed);
        // Compressed text is validated after inflating, not as it arrives.
        Assert.True(reader.ProcessPayload(frame.AsSpan(header.HeaderLength).ToArray(), out _));
        Assert.True(reader.CompleteDataFrame(out var error));
        Assert.Null(error);
    }

    [Fact]
    public void Rejects_rsv1_on_continuation_frame_with_1002()
    {
        var wire = Frames.Concat(
            Frames.Client(Opcode.Text, "a"u8, fin: false, rsv: FrameHeader.Rsv1),
            Frames.Client(Opcode.Continuation, "b"u8, rsv: FrameHeader.Rsv1));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(allowedRsv: FrameHeader.Rsv1), wire), CloseStatus.ProtocolError);
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
    public void Rejects_reserved_opcode_with_1002(byte opcode) =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Build(opcode, "x"u8, true, 0, true, Frames.DefaultKey, 1)), CloseStatus.ProtocolError);

    [Theory]
    [InlineData(Opcode.Ping)]
    [InlineData(Opcode.Pong)]
    [InlineData(Opcode.Close)]
    public void Rejects_control_frame_over_125_bytes_with_1002(Opcode opcode)
    {
        var payload = Frames.ClosePayload(1000, new string('a', 124)); // 126 bytes
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(opcode, payload)), CloseStatus.ProtocolError);
    }

    [Fact]
    public void Accepts_control_frame_of_exactly_125_bytes()
    {
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Ping, new byte[125]));
        Assert.Null(outcome.Error);
        Assert.Equal(125, Assert.Single(outcome.Events).Data.Length);
    }

    [Fact]
    public void Rejects_fragmented_ping_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Ping, "x"u8, fin: false)), CloseStatus.ProtocolError);

    [Fact]
    public void Rejects_fragmented_close_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Close, Frames.ClosePayload(1000), fin: false)), CloseStatus.ProtocolError);

    [Fact]
    public void Rejects_continuation_without_a_message_with_1002() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Continuation, "x"u8)), CloseStatus.ProtocolError);

    [Fact]
    public void Rejects_continuation_after_a_finished_message_with_1002()
    {
        var wire = Frames.Concat(Frames.Client(Opcode.Text, "a"), Frames.Client(Opcode.Continuation, "b"));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), wire);
        Assert.Single(outcome.Events);
        AssertFails(outcome, CloseStatus.ProtocolError);
    }

    [Theory]
    [InlineData(Opcode.Text)]
    [InlineData(Opcode.Binary)]
    public void Rejects_new_data_frame_inside_a_fragmented_message_with_1002(Opcode second)
    {
        var wire = Frames.Concat(Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(second, "b"));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), wire), CloseStatus.ProtocolError);
    }

    [Fact]
    public void Reassembles_fragments_with_control_frames_between()
    {
        var wire = Frames.Concat(
            Frames.Client(Opcode.Text, "Hel", fin: false),
            Frames.Client(Opcode.Ping, "p1"),
            Frames.Client(Opcode.Continuation, "lo, ", fin: false),
            Frames.Client(Opcode.Pong, "p2"),
            Frames.Client(Opcode.Continuation, "world"));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), wire);
        Assert.Null(outcome.Error);
        Assert.Equal([Opcode.Ping, Opcode.Pong, Opcode.Text], outcome.Events.Select(e => e.Opcode));
        Assert.Equal("Hello, world", Encoding.UTF8.GetString(outcome.Events[2].Data));
    }

    [Fact]
    public void Rejects_64_bit_length_with_top_bit_set_with_1002()
    {
        var wire = Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, unchecked((long)0x8000_0000_0000_0001UL));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: long.MaxValue), wire), CloseStatus.ProtocolError);
    }

    [Fact]
    public void Rejects_frame_over_max_message_size_with_1009()
    {
        var outcome = ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: 100), Frames.Client(Opcode.Binary, new byte[101]));
        AssertFails(outcome, CloseStatus.MessageTooBig);
        // Judged from the header alone: not one payload byte needs to arrive.
        Assert.Equal(0, outcome.ErrorOffset);
    }

    [Fact]
    public void Accepts_message_of_exactly_max_message_size()
    {
        var wire = Frames.Concat(Frames.Client(Opcode.Binary, new byte[60], fin: false), Frames.Client(Opcode.Continuation, new byte[40]));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: 100), wire);
        Assert.Null(outcome.Error);
        Assert.Equal(100, Assert.Single(outcome.Events).Data.Length);
    }

    [Fact]
    public void Rejects_fragments_summing_over_max_message_size_with_1009()
    {
        var wire = Frames.Concat(Frames.Client(Opcode.Binary, new byte[60], fin: false), Frames.Client(Opcode.Continuation, new byte[41]));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: 100), wire), CloseStatus.MessageTooBig);
    }

    [Fact]
    public void Rejects_huge_declared_length_with_1009_not_overflow()
    {
        var wire = Frames.Build((byte)Opcode.Binary, [], true, 0, true, Frames.DefaultKey, long.MaxValue);
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: 1 << 20), wire), CloseStatus.MessageTooBig);
    }

    [Fact]
    public void Accepts_exactly_max_fragments()
    {
        var parts = new List<byte[]> { Frames.Client(Opcode.Binary, [0], fin: false) };
        for (int i = 1; i < 7; i++) parts.Add(Frames.Client(Opcode.Continuation, [(byte)i], fin: false));
        parts.Add(Frames.Client(Opcode.Continuation, [7]));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(maxFragments: 8), Frames.Concat([.. parts]));
        Assert.Null(outcome.Error);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], Assert.Single(outcome.Events).Data);
    }

    [Fact]
    public void Rejects_more_than_max_fragments_with_1008()
    {
        var parts = new List<byte[]> { Frames.Client(Opcode.Binary, [], fin: false) };
        for (int i = 0; i < 8; i++) parts.Add(Frames.Client(Opcode.Continuation, [], fin: false));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(maxFragments: 8), Frames.Concat([.. parts])), CloseStatus.PolicyViolation);
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
        var outcome = ReaderDriver.Run(ReaderDriver.Server(maxFragments: 3), Frames.Concat([.. parts]));
        Assert.Null(outcome.Error);
        Assert.Equal(5, outcome.Events.Count);
    }

    [Fact]
    public void Rejects_invalid_utf8_text_with_1007() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Text, [0x61, 0xC0, 0xAF])), CloseStatus.InvalidPayloadData);

    [Fact]
    public void Rejects_text_ending_inside_a_utf8_sequence_with_1007() =>
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Text, [0x61, 0xE2, 0x82])), CloseStatus.InvalidPayloadData);

    [Fact]
    public void Accepts_utf8_sequence_split_across_fragments()
    {
        var euro = "€"u8.ToArray();
        var wire = Frames.Concat(
            Frames.Client(Opcode.Text, euro.AsSpan(0, 1), fin: false),
            Frames.Client(Opcode.Continuation, euro.AsSpan(1, 1), fin: false),
            Frames.Client(Opcode.Continuation, euro.AsSpan(2, 1)));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), wire);
        Assert.Null(outcome.Error);
        Assert.Equal("€", Encoding.UTF8.GetString(Assert.Single(outcome.Events).Data));
    }

    [Fact]
    public void Rejects_fragment_ending_the_message_inside_a_utf8_sequence_with_1007()
    {
        var wire = Frames.Concat(Frames.Client(Opcode.Text, "a", fin: false), Frames.Client(Opcode.Continuation, [0xF0, 0x9F, 0x98]));
        AssertFails(ReaderDriver.Run(ReaderDriver.Server(), wire), CloseStatus.InvalidPayloadData);
    }

    [Fact]
    public void Does_not_validate_binary_messages_as_utf8()
    {
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), Frames.Client(Opcode.Binary, [0xFF, 0xC0, 0xED, 0xA0, 0x80]));
        Assert.Null(outcome.Error);
    }

    [Fact]
    public void Utf8_state_resets_between_messages()
    {
        // A text message that ended validly must not leave a sequence "in progress" for the next one.
        var wire = Frames.Concat(Frames.Client(Opcode.Text, "é"), Frames.Client(Opcode.Text, "a"));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), wire);
        Assert.Null(outcome.Error);
        Assert.Equal(2, outcome.Events.Count);
    }

    [Fact]
    public void Fails_fast_on_invalid_utf8_before_the_rest_of_the_frame_arrives()
    {
        // A 1 MiB text frame of which only 10 bytes have arrived, the 4th invalid: the reader must
        // say 1007 now (RFC 6455 §8.1), not after a megabyte more.
        var payload = new byte[1 << 20];
        payload.AsSpan().Fill((byte)'a');
        payload[3] = 0xFF;
        var frame = Frames.Client(Opcode.Text, payload);
        int headerLength = 2 + 8 + 4;
        var outcome = ReaderDriver.Run(ReaderDriver.Server(maxMessageSize: 2 << 20), frame.AsSpan(0, headerLength + 10).ToArray());
        AssertFails(outcome, CloseStatus.InvalidPayloadData);
    }

    [Fact]
    public void Fails_fast_at_the_invalid_byte_when_fed_byte_by_byte()
    {
        var payload = Encoding.UTF8.GetBytes(new string('a', 5000));
        payload[100] = 0xC0;
        var frame = Frames.Client(Opcode.Text, payload);
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), frame, chunk: 1);
        AssertFails(outcome, CloseStatus.InvalidPayloadData);
        Assert.Equal(4 + 4 + 101, outcome.ErrorOffset);
    }

    [Fact]
    public void Validates_utf8_of_text_but_not_of_interleaved_control_frames()
    {
        var wire = Frames.Concat(
            Frames.Client(Opcode.Text, [0xE2], fin: false),
            Frames.Client(Opcode.Ping, [0xFF, 0xFF]),
            Frames.Client(Opcode.Continuation, [0x82, 0xAC]));
        var outcome = ReaderDriver.Run(ReaderDriver.Server(), wire);
        Assert.Null(outcome.Error);
        Assert.Equal("€", Encoding.UTF8.GetString(outcome.Events[^1].Data));
    }
}
