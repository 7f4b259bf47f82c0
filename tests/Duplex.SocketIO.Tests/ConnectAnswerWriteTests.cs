using System.Text.Json;

namespace Duplex.SocketIO.Tests;

/// <summary>
/// The CONNECT answer is written on its own over WebSocket (what the connection handler emits follows
/// in a later write), as from the reference server; the official socket.io-protocol suite reads one
/// packet per network read and depends on it.
/// </summary>
public sealed class ConnectAnswerWriteTests
{
    [Fact]
    public void Connect_answer_is_one_packet_marked_to_be_written_alone()
    {
        var packets = SocketIOEncoder.Connect("/custom", "abc");
        var packet = Assert.Single(packets);
        Assert.True(packet.WriteAlone);
        Assert.Equal("0/custom,{\"sid\":\"abc\"}", packet.Text);
        Assert.Equal("40/custom,{\"sid\":\"abc\"}", packet.ToPollingText());
    }

    [Theory]
    [InlineData(null, "0/custom,{\"sid\":\"abc\"}")]
    [InlineData("p1", "0/custom,{\"sid\":\"abc\",\"pid\":\"p1\"}")]
    public void Connect_answer_is_written_alone_with_or_without_recovery(string? pid, string text)
    {
        // With connection state recovery the answer also carries the private id; it must go out the same way.
        var packet = Assert.Single(SocketIOConnection.ConnectAnswer(SocketIOParser.Default, "/custom", "abc", pid));
        Assert.True(packet.WriteAlone);
        Assert.Equal(text, packet.Text);
    }

    [Fact]
    public void Other_packets_are_written_with_what_follows()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Assert.All(SocketIOEncoder.Event("/", "auth", [new { token = "1" }], null, options), p => Assert.False(p.WriteAlone));
        Assert.All(SocketIOEncoder.Event("/", "bin", [new byte[] { 1 }], 3, options), p => Assert.False(p.WriteAlone));
        Assert.All(SocketIOEncoder.Disconnect("/"), p => Assert.False(p.WriteAlone));
    }
}
