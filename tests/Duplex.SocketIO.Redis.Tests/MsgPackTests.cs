using System.Text.Json;

namespace Duplex.SocketIO.Redis.Tests;

/// <summary>The MessagePack codec against bytes notepack.io (the Node adapter's encoder) produced.</summary>
public class MsgPackTests
{
    // notepack.encode(["abc", {type: 2, data: ["ev", 1, -1, 1.5, true, null, Buffer [1,2], 300, -200, 70000, "x" * 40], nsp: "/"},
    //                  {rooms: ["r"], except: [], flags: {}}])
    private const string Envelope =
        "93a361626383a47479706502a4646174619ba2657601ffcb3ff8000000000000c3c0c4020102cd012cd1ff38ce00011170d928" +
        "78787878787878787878787878787878787878787878787878787878787878787878787878787878" +
        "a36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677380";

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void Decodes_a_node_broadcast_envelope_with_binary_as_a_placeholder()
    {
        var attachments = new List<byte[]>();
        var json = MsgPack.ToJson(Hex(Envelope), attachments);
        Assert.Equal("abc", json[0].GetString());
        var data = json[1].GetProperty("data");
        Assert.Equal("ev", data[0].GetString());
        Assert.Equal(1, data[1].GetInt32());
        Assert.Equal(-1, data[2].GetInt32());
        Assert.Equal(1.5, data[3].GetDouble());
        Assert.Equal(JsonValueKind.True, data[4].ValueKind);
        Assert.Equal(JsonValueKind.Null, data[5].ValueKind);
        Assert.True(data[6].GetProperty("_placeholder").GetBoolean());
        Assert.Equal(0, data[6].GetProperty("num").GetInt32());
        Assert.Equal([1, 2], attachments.Single());
        Assert.Equal(300, data[7].GetInt32());
        Assert.Equal(-200, data[8].GetInt32());
        Assert.Equal(70000, data[9].GetInt32());
        Assert.Equal(new string('x', 40), data[10].GetString());
        Assert.Equal("/", json[1].GetProperty("nsp").GetString());
        Assert.Equal("r", json[2].GetProperty("rooms")[0].GetString());
    }

    [Fact]
    public void Encodes_the_same_bytes_as_notepack()
    {
        var attachments = new List<byte[]>();
        var json = MsgPack.ToJson(Hex(Envelope), attachments);
        Assert.Equal(Envelope, Convert.ToHexString(MsgPack.FromJson(json, attachments)).ToLowerInvariant());
    }

    [Fact]
    public void Encodes_a_broadcast_ack_response_as_notepack_does()
    {
        // notepack.encode({type: 9, requestId: "abc", packet: {ok: Buffer [255]}})
        const string expected = "83a47479706509a9726571756573744964a3616263a67061636b657481a26f6bc401ff";
        var bytes = MsgPack.Build(w =>
        {
            w.MapHeader(3);
            w.String("type"); w.Int(9);
            w.String("requestId"); w.String("abc");
            w.String("packet");
            using var doc = JsonDocument.Parse("""{"ok":{"_placeholder":true,"num":0}}""");
            w.WriteJson(doc.RootElement, [[255]]);
        });
        Assert.Equal(expected, Convert.ToHexString(bytes).ToLowerInvariant());
    }

    [Theory]
    [InlineData(0L, "00")]
    [InlineData(127L, "7f")]
    [InlineData(128L, "cc80")]
    [InlineData(65536L, "ce00010000")]
    [InlineData(-32L, "e0")]
    [InlineData(-33L, "d0df")]
    [InlineData(-40000L, "d2ffff63c0")]
    [InlineData(5000000000L, "cf000000012a05f200")]
    [InlineData(-5000000000L, "d3fffffffed5fa0e00")]
    public void Integers_take_their_smallest_form_and_read_back(long value, string hex)
    {
        var bytes = MsgPack.Build(w => w.Int(value));
        Assert.Equal(hex, Convert.ToHexString(bytes).ToLowerInvariant());
        Assert.Equal(value, MsgPack.ToJson(bytes, []).GetInt64());
    }

    [Fact]
    public void Long_strings_arrays_and_maps_round_trip()
    {
        var text = new string('é', 40000);
        var json = JsonSerializer.SerializeToElement(new { s = text, a = Enumerable.Range(0, 70000).ToArray(), m = Enumerable.Range(0, 20).ToDictionary(i => "k" + i, i => i) });
        var back = MsgPack.ToJson(MsgPack.FromJson(json), []);
        Assert.Equal(json.GetRawText(), back.GetRawText());
    }

    [Fact]
    public void Ext_values_read_as_null()
    {
        // fixext1 (notepack's undefined) and a fixext8 (a date) inside an array
        var json = MsgPack.ToJson(Hex("92d40000d7ff0000000000000000"), []);
        Assert.Equal("[null,null]", json.GetRawText());
    }

    [Theory]
    [InlineData("")]                    // nothing
    [InlineData("92a161")]              // array of 2 with one item
    [InlineData("c1")]                  // never used
    [InlineData("a5616263")]            // string shorter than its length
    [InlineData("dd7fffffff")]          // array claiming 2^31 items
    [InlineData("c6ffffffff00")]        // bin claiming 4 GB
    [InlineData("a1ff")]                // string that is not UTF-8
    [InlineData("c0c0")]                // trailing bytes
    public void Malformed_input_is_a_FormatException(string hex)
    {
        Assert.Throws<FormatException>(() => MsgPack.ToJson(Hex(hex), []));
    }

    [Fact]
    public void Nesting_is_bounded()
    {
        var deep = Enumerable.Repeat((byte)0x91, 10000).Append((byte)0xc0).ToArray();
        Assert.Throws<FormatException>(() => MsgPack.ToJson(deep, []));
    }
}
