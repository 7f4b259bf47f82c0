using System.Text;
using System.Text.Json;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>
/// What fuzzing the codec found (tests/fuzz/regressions/msgpack): malformed messages from other nodes must throw
/// the documented <see cref="FormatException"/> or <see cref="JsonException"/>, nothing else.
/// </summary>
public class MalformedMessageTests
{
    private static readonly RedisAdapterCodec Codec = new("socket.io", "/");

    private static byte[] Json(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public void A_request_whose_type_is_not_a_number_is_malformed()
    {
        // JsonElement.TryGetInt32 throws InvalidOperationException on a string rather than returning false.
        Assert.Throws<FormatException>(() => Codec.DecodeRequest(Json("{\"uid\":\"a\",\"type\":\"5\"}")));
    }

    [Fact]
    public void A_broadcast_whose_packet_type_is_not_a_number_is_malformed()
    {
        // MessagePack [uid, {type: "x", data: ["e"], nsp: "/"}, {}]
        var message = MsgPack.Build(w =>
        {
            w.ArrayHeader(3);
            w.String("u");
            w.MapHeader(3);
            w.String("type"); w.String("x");
            w.String("data"); w.ArrayHeader(1); w.String("e");
            w.String("nsp"); w.String("/");
            w.MapHeader(0);
        });
        Assert.Throws<FormatException>(() => Codec.DecodeBroadcast(message));
    }

    [Fact]
    public void A_response_whose_type_or_client_count_is_not_a_number_reads_as_absent()
    {
        var response = Codec.DecodeResponse(Json("{\"requestId\":\"r\",\"type\":[8],\"clientCount\":\"3\"}"));
        Assert.Null(response.Type);
        Assert.Null(response.ClientCount);
        Assert.Equal("r", response.RequestId);
    }

    [Fact]
    public void A_json_message_that_is_not_utf8_is_malformed()
    {
        // JsonDocument.Parse accepts it; reading the string later threw InvalidOperationException.
        byte[] message = [.. Json("{\"uid\":\"a"), 0x89, .. Json("\",\"type\":1}")];
        Assert.Throws<FormatException>(() => Codec.DecodeRequest(message));
        Assert.Throws<FormatException>(() => Codec.DecodeResponse(message));
    }

    [Fact]
    public void A_broadcast_timeout_beyond_what_a_timer_takes_is_capped()
    {
        // {uid, requestId, type: 7, packet, opts: {rooms, except, flags: {timeout: 1e300}}}: TimeSpan.FromMilliseconds overflowed.
        var message = MsgPack.Build(w =>
        {
            w.MapHeader(5);
            w.String("uid"); w.String("u");
            w.String("requestId"); w.String("r");
            w.String("type"); w.Int(7);
            w.String("packet");
            w.MapHeader(3);
            w.String("type"); w.Int(2);
            w.String("data"); w.ArrayHeader(1); w.String("e");
            w.String("nsp"); w.String("/");
            w.String("opts");
            w.MapHeader(1);
            w.String("flags"); w.MapHeader(1); w.String("timeout"); w.Double(1e300);
        });
        var request = Assert.IsType<BroadcastRequest>(Codec.DecodeRequest(message));
        Assert.Equal(TimeSpan.FromMilliseconds(int.MaxValue), request.Options.Timeout);
        using var cts = new CancellationTokenSource(request.Options.Timeout!.Value); // what the adapter then makes of it
    }

    [Fact]
    public void A_placeholder_whose_num_is_not_a_number_encodes_as_a_plain_map()
    {
        using var json = JsonDocument.Parse("[{\"_placeholder\":true,\"num\":\"0\"}]");
        var bytes = MsgPack.FromJson(json.RootElement, [[1, 2, 3]]);
        var back = MsgPack.ToJson(bytes, []);
        Assert.Equal("[{\"_placeholder\":true,\"num\":\"0\"}]", back.GetRawText());
    }
}
