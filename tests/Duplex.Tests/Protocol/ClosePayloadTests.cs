using Duplex.Protocol;
using Duplex.Tests.Support;

namespace Duplex.Tests.Protocol;

public class ClosePayloadTests
{
    [Fact]
    public void Accepts_empty_close_payload_as_no_status()
    {
        Assert.True(WebSocketProtocol.TryParseClosePayload([], out var status, out var reason, out _));
        Assert.Null(status);
        Assert.Equal("", reason);
    }

    [Fact]
    public void Rejects_one_byte_close_payload_with_1002()
    {
        Assert.False(WebSocketProtocol.TryParseClosePayload([0x03], out _, out _, out var error));
        Assert.Equal(CloseStatus.ProtocolError, error.Status);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    [InlineData(1004)]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1015)]
    [InlineData(1016)]
    [InlineData(1100)]
    [InlineData(2000)]
    [InlineData(2999)]
    [InlineData(5000)]
    [InlineData(65535)]
    public void Rejects_invalid_close_code_with_1002(int code)
    {
        Assert.False(WebSocketProtocol.TryParseClosePayload(Frames.ClosePayload(code), out _, out _, out var error));
        Assert.Equal(CloseStatus.ProtocolError, error.Status);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1002)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1008)]
    [InlineData(1009)]
    [InlineData(1010)]
    [InlineData(1011)]
    [InlineData(1012)]
    [InlineData(1013)]
    [InlineData(1014)]
    [InlineData(3000)]
    [InlineData(3999)]
    [InlineData(4000)]
    [InlineData(4999)]
    public void Accepts_valid_close_code_and_decodes_reason(int code)
    {
        Assert.True(WebSocketProtocol.TryParseClosePayload(Frames.ClosePayload(code, "bye ✓"), out var status, out var reason, out _));
        Assert.Equal(code, (int)status!.Value);
        Assert.Equal("bye ✓", reason);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC0, 0x80 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xE2, 0x82 })]
    public void Rejects_close_reason_that_is_not_utf8_with_1007(byte[] reason)
    {
        var payload = Frames.Concat(Frames.ClosePayload(1000), reason);
        Assert.False(WebSocketProtocol.TryParseClosePayload(payload, out _, out _, out var error));
        Assert.Equal(CloseStatus.InvalidPayloadData, error.Status);
    }

    [Theory]
    [InlineData(1000, true)]
    [InlineData(1003, true)]
    [InlineData(1004, false)]
    [InlineData(1005, false)]
    [InlineData(1006, false)]
    [InlineData(1007, true)]
    [InlineData(1014, true)]
    [InlineData(1015, false)]
    [InlineData(2999, false)]
    [InlineData(3000, true)]
    [InlineData(4999, true)]
    [InlineData(5000, false)]
    [InlineData(-1, false)]
    public void Close_status_rules_match_rfc_6455_section_7_4(int code, bool valid) =>
        Assert.Equal(valid, CloseStatusRules.IsValidOnWire(code));

    [Fact]
    public void Close_payload_round_trips_through_writer_and_reader()
    {
        var buffer = new byte[125];
        int n = FrameWriter.WriteClosePayload(buffer, CloseStatus.GoingAway, "server restart ☃");
        Assert.True(WebSocketProtocol.TryParseClosePayload(buffer.AsSpan(0, n), out var status, out var reason, out _));
        Assert.Equal(CloseStatus.GoingAway, status);
        Assert.Equal("server restart ☃", reason);
    }

    [Fact]
    public void Truncates_close_reason_to_123_bytes_on_a_character_boundary()
    {
        var reason = new string('a', 122) + "😀😀";
        var cut = WebSocketProtocol.TruncateReason(reason)!;
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(cut) <= FrameWriter.MaxCloseReasonBytes);
        Assert.Equal(new string('a', 122), cut);
    }
}
