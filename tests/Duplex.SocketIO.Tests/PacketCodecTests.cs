using System.Text;
using System.Text.Json;
using Duplex.SocketIO.EngineIO;

namespace Duplex.SocketIO.Tests;

/// <summary>The Engine.IO and Socket.IO codecs alone, without sockets.</summary>
public sealed class PacketCodecTests
{
    private static readonly JsonSerializerOptions Json = new SocketIOServer().JsonOptions;

    [Fact]
    public void Polling_payload_round_trips_text_and_base64_binary()
    {
        var packets = new[] { EnginePacket.Message("hello"), EnginePacket.Message(new byte[] { 1, 2, 3 }), EnginePacket.Create(EnginePacketType.Ping) };
        var payload = EnginePayload.Encode(packets);
        Assert.Equal("4hello\u001ebAQID\u001e2", payload);
        Assert.True(EnginePayload.TryDecode(payload, out var decoded));
        Assert.Equal("hello", decoded[0].Text);
        Assert.Equal(new byte[] { 1, 2, 3 }, decoded[1].Binary);
        Assert.Equal(EnginePacketType.Ping, decoded[2].Type);
    }

    [Theory]
    [InlineData("")]
    [InlineData("9")]
    [InlineData("4a\u001e")]
    [InlineData("b!!notbase64")]
    public void Malformed_polling_payloads_are_rejected(string payload) => Assert.False(EnginePayload.TryDecode(payload, out _));

    [Fact]
    public void A_packet_is_framed_once_however_many_recipients()
    {
        var packet = EnginePacket.Message("42[\"x\"]");
        Assert.Same(packet.ToFrame(), packet.ToFrame());
    }

    [Fact]
    public void Parses_namespace_ack_id_and_attachment_count()
    {
        Assert.True(SocketIOPacketParser.TryParse("51-/admin,12[\"upload\",{\"_placeholder\":true,\"num\":0}]", out var packet));
        Assert.Equal(SocketIOPacketType.BinaryEvent, packet.Type);
        Assert.Equal("/admin", packet.Namespace);
        Assert.Equal(12, packet.Id);
        Assert.Equal(1, packet.AttachmentCount);
        Assert.False(packet.IsComplete);

        Assert.True(SocketIOPacketParser.TryParse("0", out var connect));
        Assert.Equal("/", connect.Namespace);
        Assert.Null(connect.Data);
        Assert.True(SocketIOPacketParser.TryParse("0/chat,{\"token\":\"t\"}", out var withAuth));
        Assert.Equal("t", withAuth.Data!.Value.GetProperty("token").GetString());
        Assert.True(SocketIOPacketParser.TryParse("1/chat,", out var disconnect));
        Assert.Equal("/chat", disconnect.Namespace);
    }

    [Theory]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("2{}")]          // an event must be an array
    [InlineData("2[]")]          // … with the event name first
    [InlineData("2[{}]")]
    [InlineData("0[]")]          // CONNECT data must be an object
    [InlineData("1{}")]          // DISCONNECT has no data
    [InlineData("3{}")]          // ACK data is an array
    [InlineData("5-[\"a\"]")]    // attachment count missing
    [InlineData("51[\"a\"]")]    // '-' missing
    [InlineData("2[\"a\"")]      // broken JSON
    public void Rejects_malformed_socketio_packets(string text) => Assert.False(SocketIOPacketParser.TryParse(text, out _));

    [Fact]
    public void Encodes_events_with_binary_as_placeholders_and_attachments()
    {
        var packets = SocketIOEncoder.Event("/admin", "upload", [new byte[] { 1 }, new { name = "n", data = new byte[] { 2, 3 } }], 7, Json);
        Assert.Equal(3, packets.Length);
        Assert.Equal("52-/admin,7[\"upload\",{\"_placeholder\":true,\"num\":0},{\"name\":\"n\",\"data\":{\"_placeholder\":true,\"num\":1}}]", packets[0].Text);
        Assert.Equal(new byte[] { 1 }, packets[1].Binary);
        Assert.Equal(new byte[] { 2, 3 }, packets[2].Binary);

        Assert.Equal("2[\"chat\",\"hi\",3]", SocketIOEncoder.Event("/", "chat", ["hi", 3], null, Json)[0].Text);
        Assert.Equal("3/x,4[]", SocketIOEncoder.Ack("/x", 4, [], Json)[0].Text);
        Assert.Equal("0{\"sid\":\"abc\"}", SocketIOEncoder.Connect("/", "abc")[0].Text);
        Assert.Equal("4/x,{\"message\":\"no\",\"data\":{\"code\":1}}", SocketIOEncoder.ConnectError("/x", "no", new { code = 1 }, Json)[0].Text);
        Assert.Equal("1/x,", SocketIOEncoder.Disconnect("/x")[0].Text);
    }

    public sealed record Blob(string Name, byte[] Data);

    [Fact]
    public void Reads_placeholders_back_as_bytes_at_any_depth()
    {
        Assert.True(SocketIOPacketParser.TryParse("61-3[{\"name\":\"b\",\"data\":{\"_placeholder\":true,\"num\":0}},{\"_placeholder\":true,\"num\":0}]", out var packet));
        packet.Attachments.Add(Encoding.UTF8.GetBytes("xyz"));
        var args = SocketIOArgs.From(packet.Data, 0, packet.Attachments, Json);
        Assert.Equal("xyz", Encoding.UTF8.GetString(args.Get<Blob>(0)!.Data));
        Assert.Equal("xyz", Encoding.UTF8.GetString(args.GetBytes(1)!));
        Assert.Null(args.Get<string>(5));
    }
}
